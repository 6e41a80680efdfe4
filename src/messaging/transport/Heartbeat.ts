import type { Clock } from '../Clock.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * @internal Liveness of the other side of a transport: a ping every `intervalMs`, and `silent()`
 * once nothing at all has been heard for `timeoutMs` (any frame counts, so a host busy streaming
 * is never taken for a dead one because its pong waits behind its chunks).
 */
export class Heartbeat {
  private timer: unknown;
  private lastHeardAt: number;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly ping: () => void,
    private readonly silent: () => void,
  ) {
    this.lastHeardAt = clock.now();
    this.schedule();
  }

  /** Something arrived from the other side. */
  heard(): void {
    this.lastHeardAt = this.clock.now();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.intervalMs > MAX_TIMER_MS || this.stopped) return;
    this.timer = this.clock.setTimeout(() => this.beat(), this.intervalMs);
    // Heartbeats alone must not keep a process alive.
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  private beat(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.clock.now() - this.lastHeardAt >= this.timeoutMs) {
      this.stopped = true;
      this.silent();
      return;
    }
    this.ping();
    this.schedule();
  }
}
