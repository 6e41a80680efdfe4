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
  /** Frames after which a batch goes at the end of the turn instead of waiting for the interval. Defaults to `32`. */
  fullBatch?: number;
  /** The most a batch holds, in the codec's size unit (bytes; characters for JSON): a batch is written before a frame would take it over, and at once when it reaches it. Defaults to `262_144`. */
  maxBatchBytes?: number;
  /** Time source of the interval. Defaults to the system clock. */
  clock?: Clock;
  /** Runs a callback at the end of this turn of the event loop. Defaults to `setImmediate`. */
  defer?: (callback: () => void) => void;
}

const HEADER_BYTES = 4;

/** @internal How a {@link FrameBatcher} encodes one frame, measures it and joins a batch of them. */
export interface BatchCodec<Item, Batch> {
  /** The frame encoded; throws when it cannot be (the sender hears of it). */
  encode(frame: unknown): Item;
  /** Its size, in bytes or characters, towards `maxBatchBytes`. */
  size(item: Item): number;
  /** One batch of `items`, in order; `size` is the sum of their sizes. */
  join(items: Item[], size: number): Batch;
}

/**
 * @internal Frames as V8 structured-clone bytes, a batch one buffer of `[u32 length][bytes]` entries
 * (what {@link decodeFrameBatch} reads), for Node's IPC channel with `advanced` serialization.
 */
export const v8BatchCodec: BatchCodec<Buffer, Buffer> = {
  encode(frame) {
    const body = serialize(frame);
    const entry = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    entry.writeUInt32LE(body.length, 0);
    body.copy(entry, HEADER_BYTES);
    return entry;
  },
  size: (item) => item.length,
  join: (items, size) => Buffer.concat(items, size),
};

/**
 * @internal Writes frames in batches: each frame is encoded when it is sent (so a value that
 * cannot be sent throws there, to the sender, as a direct send would), and the encoded frames of a
 * batch are joined and written as one message. Why: across a process boundary every message costs
 * the receiver an event-loop wake-up and the kernel a context switch, which on a busy machine come
 * out of the model's own threads.
 */
export class FrameBatcher<Item = Buffer, Batch = Buffer> {
  private readonly coalesceMs: number;
  private readonly maxBatchBytes: number;
  private readonly fullBatch: number;
  private readonly clock: Clock;
  private readonly defer: (callback: () => void) => void;
  private queued: Item[] = [];
  private bytes = 0;
  private scheduled: 'turn' | 'timer' | undefined;
  private timer: unknown;
  private lastWrite = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly write: (batch: Batch) => void,
    private readonly codec: BatchCodec<Item, Batch>,
    options: FrameBatcherOptions = {},
  ) {
    this.coalesceMs = Math.max(0, options.coalesceMs ?? 1);
    this.maxBatchBytes = Math.max(1, options.maxBatchBytes ?? 262_144);
    this.fullBatch = Math.max(1, options.fullBatch ?? 32);
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
   * @param urgent goes at the end of this turn whatever the interval, with what is queued (a
   *   stream's credit, an ask, a cancel: what the other side waits for; the interval is for chunks).
   * @param check runs on the encoded frame before it is queued; what it throws reaches the caller.
   * @throws when the frame cannot be encoded (a function, a symbol), or what `check` throws: nothing is queued.
   */
  push(frame: unknown, urgent = false, check?: (item: Item) => void): void {
    if (this.stopped) return;
    const item = this.codec.encode(frame);
    check?.(item);
    const size = this.codec.size(item);
    // A batch stays within the limit unless one frame alone is over it.
    if (this.queued.length > 0 && this.bytes + size > this.maxBatchBytes) this.flush();
    this.queued.push(item);
    this.bytes += size;
    if (this.bytes >= this.maxBatchBytes) {
      this.flush();
      return;
    }
    // A batch this full gains nothing from waiting longer (and a sender out of credit waits on it).
    const now = urgent || this.queued.length >= this.fullBatch;
    if (this.scheduled === 'turn' || (this.scheduled === 'timer' && !now)) return;
    this.cancelSchedule();
    const wait = now ? 0 : this.lastWrite + this.coalesceMs - this.clock.now();
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
    const batch = this.codec.join(this.queued, this.bytes);
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
 * @internal The frames of one batch {@link v8BatchCodec} joined, in order. A frame that cannot be
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
