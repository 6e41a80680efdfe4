import { deserialize, serialize } from 'node:v8';
import { type Clock, systemClock } from '../Clock.js';

/** Options of {@link FrameBatcher}. */
export interface FrameBatcherOptions {
  /**
   * The shortest time between two writes, in ms. A frame sent after a quiet spell of at least this
   * long is written at the end of the current turn of the event loop (with every frame sent in that
   * turn); frames that follow sooner wait for the interval to pass and go together. So a message at a
   * time (an ask, a token every few ms) goes at once, and a burst (a fast model's tokens, the 8
   * chunks of one batched decode step) costs the other side one wake-up per interval instead of one
   * per frame. `0` writes once per turn of the event loop. Defaults to `1`.
   */
  coalesceMs?: number;
  /** A batch is written at once when it reaches this many bytes. Defaults to `262_144`. */
  maxBatchBytes?: number;
  /** Time source of the interval. Defaults to the system clock. */
  clock?: Clock;
  /** Runs a callback at the end of this turn of the event loop. Defaults to `setImmediate`. */
  defer?: (callback: () => void) => void;
}

const HEADER_BYTES = 4;

/**
 * @internal Writes frames in batches: each frame is serialized when it is sent (so a value that
 * cannot be cloned throws there, to the sender, as a direct send would), and the serialized frames
 * are written as one length-prefixed buffer per batch. {@link decodeFrameBatch} reads one back.
 * Why: across a process boundary every message costs the receiver an event-loop wake-up and the
 * kernel a context switch, which on a busy machine come out of the model's own threads.
 */
export class FrameBatcher {
  private readonly coalesceMs: number;
  private readonly maxBatchBytes: number;
  private readonly clock: Clock;
  private readonly defer: (callback: () => void) => void;
  private queued: Buffer[] = [];
  private bytes = 0;
  private scheduled: 'turn' | 'timer' | undefined;
  private timer: unknown;
  private lastWrite = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly write: (batch: Buffer) => void,
    options: FrameBatcherOptions = {},
  ) {
    this.coalesceMs = Math.max(0, options.coalesceMs ?? 1);
    this.maxBatchBytes = Math.max(1, options.maxBatchBytes ?? 262_144);
    this.clock = options.clock ?? systemClock;
    this.defer = options.defer ?? ((callback) => void setImmediate(callback));
  }

  /** Frames serialized and waiting for the next write. */
  get pending(): number {
    return this.queued.length;
  }

  /**
   * Queues `frame` for the next write.
   *
   * @throws when the frame cannot be serialized (a function, a symbol): nothing is queued.
   */
  push(frame: unknown): void {
    if (this.stopped) return;
    const body = serialize(frame);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(body.length, 0);
    this.queued.push(header, body);
    this.bytes += HEADER_BYTES + body.length;
    if (this.bytes >= this.maxBatchBytes) {
      this.flush();
      return;
    }
    if (this.scheduled !== undefined) return;
    const wait = this.lastWrite + this.coalesceMs - this.clock.now();
    if (wait <= 0) {
      this.scheduled = 'turn';
      this.defer(() => {
        if (this.scheduled === 'turn') this.flush();
      });
    } else {
      this.scheduled = 'timer';
      this.timer = this.clock.setTimeout(() => {
        if (this.scheduled === 'timer') this.flush();
      }, wait);
    }
  }

  /** Writes what is queued now, as one batch. */
  flush(): void {
    this.cancelSchedule();
    if (this.queued.length === 0 || this.stopped) return;
    const batch = Buffer.concat(this.queued, this.bytes);
    this.queued = [];
    this.bytes = 0;
    this.lastWrite = this.clock.now();
    this.write(batch);
  }

  /** Drops what is queued and writes nothing more (the channel is gone). */
  stop(): void {
    this.stopped = true;
    this.cancelSchedule();
    this.queued = [];
    this.bytes = 0;
  }

  private cancelSchedule(): void {
    if (this.scheduled === 'timer') this.clock.clearTimeout(this.timer);
    this.scheduled = undefined;
    this.timer = undefined;
  }
}

/**
 * @internal The frames of one batch {@link FrameBatcher} wrote, in order. A frame that cannot be
 * read is passed to `onBad` (with what went wrong) and skipped; a batch whose lengths do not add
 * up ends there.
 */
export function decodeFrameBatch(batch: Uint8Array, onFrame: (frame: unknown) => void, onBad: (error: unknown) => void): void {
  const view = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  let offset = 0;
  while (offset + HEADER_BYTES <= view.length) {
    const length = view.readUInt32LE(offset);
    offset += HEADER_BYTES;
    if (offset + length > view.length) {
      onBad(new RangeError(`a batched frame of ${length} bytes overruns its batch (${view.length - offset} bytes left)`));
      return;
    }
    let frame: unknown;
    try {
      frame = deserialize(view.subarray(offset, offset + length));
    } catch (error) {
      onBad(error);
      offset += length;
      continue;
    }
    offset += length;
    onFrame(frame);
  }
  if (offset !== view.length) onBad(new RangeError(`a frame batch ends with ${view.length - offset} stray bytes`));
}
