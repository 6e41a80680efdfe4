import type { Clock } from '../Clock.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * @internal Liveness of the other side of a transport: a ping every `intervalMs`, and `silent()`
 * once nothing at all has been heard for `timeoutMs` (any frame counts, so a host busy streaming
 * is never taken for a dead one because its pong waits behind its chunks). The clock starts at the
 * first frame heard: before it, the other side is starting (a child process loading its modules
 * can hold its event loop for seconds), not silent, and its owner's start timeout applies.
 */
export class Heartbeat {
  private timer: unknown;
  /** When the other side last spoke; `undefined` until it first has. */
  private lastHeardAt: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly ping: () => void,
    private readonly silent: () => void,
  ) {
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
    if (this.lastHeardAt !== undefined && this.clock.now() - this.lastHeardAt >= this.timeoutMs) {
      this.stopped = true;
      this.silent();
      return;
    }
    this.ping();
    this.schedule();
  }
}
