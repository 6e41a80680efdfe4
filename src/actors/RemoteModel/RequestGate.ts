import { AbortedError } from '../../messaging/errors.js';
import { QueueFullError } from '../ModelActor/modelErrors.js';

/** A place taken in a {@link RequestGate}: give it back with `release()` or `await using`. */
export interface GatePass extends Disposable {
  release(): void;
}

interface Waiter {
  grant: (pass: GatePass) => void;
  fail: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * @internal The remote counterpart of a model's slots: at most `maxConcurrent` requests in flight
 * upstream, then a FIFO queue of at most `maxQueue` (a full queue is `QUEUE_FULL` at once, as for a
 * local model). A waiter that aborts leaves the queue at once; a pass is given back exactly once.
 *
 * @example
 * ```ts
 * using pass = await gate.acquire(signal); // QueueFullError when maxQueue are waiting
 * ```
 */
export class RequestGate {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  /** Requests in flight upstream now. */
  get inFlight(): number {
    return this.running;
  }

  /** Requests waiting for a place now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** A place upstream: at once if one is free, else after the requests queued before it. */
  acquire(signal: AbortSignal): Promise<GatePass> {
    if (signal.aborted) return Promise.reject(new AbortedError('waiting for the remote', { cause: signal.reason }));
    if (this.running < this.maxConcurrent && this.waiting.length === 0) return Promise.resolve(this.pass());
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError(this.waiting.length, this.maxQueue, this.maxConcurrent));
    }
    return new Promise<GatePass>((grant, fail) => {
      const waiter: Waiter = {
        grant,
        fail,
        signal,
        onAbort: () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          fail(new AbortedError('waiting for the remote', { cause: signal.reason }));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Fails every queued request with `error` (the actor is stopping). */
  rejectQueued(error: unknown): void {
    for (const waiter of this.waiting.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.fail(error);
    }
  }

  private pass(): GatePass {
    this.running += 1;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.next();
    };
    return { release, [Symbol.dispose]: release };
  }

  private next(): void {
    while (this.running < this.maxConcurrent && this.waiting.length > 0) {
      const waiter = this.waiting.shift()!;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.grant(this.pass());
    }
  }
}
