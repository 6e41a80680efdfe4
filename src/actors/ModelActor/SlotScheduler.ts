import { AbortedError } from '../../messaging/errors.js';
import { QueueFullError } from './modelErrors.js';

interface Waiter<T> {
  resolve: (slot: T) => void;
  reject: (error: unknown) => void;
  key: string;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * @internal Admission in front of a fixed set of slots: a bounded queue served round-robin across
 * fairness keys (FIFO within a key), so one chatty session cannot starve the others.
 */
export class SlotScheduler<T> {
  private readonly free: T[];
  private readonly queues = new Map<string, Waiter<T>[]>();
  /** Keys with waiters, in service order; the head is served next. */
  private readonly rotation: string[] = [];
  private waiting = 0;

  constructor(
    private readonly slots: readonly T[],
    private readonly maxQueue: number,
  ) {
    this.free = [...slots];
  }

  get busy(): number {
    return this.slots.length - this.free.length;
  }

  get queueDepth(): number {
    return this.waiting;
  }

  /**
   * A free slot at once, else a place in the queue; rejects at once with `QUEUE_FULL` when that is
   * full. `choose` picks among free slots (index into the array it gets); by default the most
   * recently freed. A queued request takes whichever slot frees first: fairness before affinity.
   */
  acquire(key: string, signal?: AbortSignal, choose?: (free: readonly T[]) => number): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AbortedError('waiting for a slot', { cause: signal.reason }));
    if (this.free.length > 0) {
      const index = choose ? choose(this.free) : this.free.length - 1;
      const [slot] = this.free.splice(index >= 0 && index < this.free.length ? index : this.free.length - 1, 1);
      return Promise.resolve(slot as T);
    }
    if (this.waiting >= this.maxQueue) {
      return Promise.reject(new QueueFullError(this.waiting, this.maxQueue, this.slots.length));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, key, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          this.remove(waiter);
          reject(new AbortedError('waiting for a slot', { cause: signal.reason }));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
        this.rotation.push(key);
      }
      queue.push(waiter);
      this.waiting++;
    });
  }

  /** Gives a slot back: to the next key in rotation if anyone waits, else to the free pool. */
  release(slot: T): void {
    const waiter = this.next();
    if (waiter) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort as () => void);
      waiter.resolve(slot);
    } else {
      this.free.push(slot);
    }
  }

  /** Rejects every waiter (the model is going away). */
  rejectAll(error: unknown): void {
    for (let waiter = this.next(); waiter; waiter = this.next()) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort as () => void);
      waiter.reject(error);
    }
  }

  private next(): Waiter<T> | undefined {
    const key = this.rotation.shift();
    if (key === undefined) return undefined;
    const queue = this.queues.get(key) as Waiter<T>[];
    const waiter = queue.shift() as Waiter<T>;
    this.waiting--;
    if (queue.length > 0) this.rotation.push(key);
    else this.queues.delete(key);
    return waiter;
  }

  private remove(waiter: Waiter<T>): void {
    const queue = this.queues.get(waiter.key);
    if (!queue) return;
    const index = queue.indexOf(waiter);
    if (index < 0) return;
    queue.splice(index, 1);
    this.waiting--;
    if (queue.length === 0) {
      this.queues.delete(waiter.key);
      this.rotation.splice(this.rotation.indexOf(waiter.key), 1);
    }
  }
}
