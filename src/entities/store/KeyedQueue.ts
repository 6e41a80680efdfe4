/**
 * @internal The store's call order per key: each write of a key runs after every earlier call on
 * that key, reads wait for the writes called before them, and calls on different keys run
 * concurrently. Shared by the stores whose backend does not order calls by itself (`FileStore`,
 * `NatsKvStore`).
 */
import { AbortedError } from '../../messaging/errors.js';

/** @internal Chains of operations, one per key. */
export class KeyedQueue {
  /** Per key, the end of its chain; removed when the chain drains. */
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `operation` after every earlier operation on `key`. If `signal` fires while it waits its
   * turn, the caller is answered at once and the operation is skipped when its turn comes; once
   * it has started, only the operation itself decides whether the abort still counts.
   */
  enqueue<R>(key: string, signal: AbortSignal | undefined, what: string, operation: () => Promise<R>): Promise<R> {
    let resolveResult!: (value: R) => void;
    let rejectResult!: (reason: unknown) => void;
    const result = new Promise<R>((res, rej) => {
      resolveResult = res;
      rejectResult = rej;
    });
    let started = false;
    const onAbort = (): void => {
      if (!started) rejectResult(new AbortedError(what, { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const previous = this.tails.get(key) ?? Promise.resolve();
    const tail = previous.then(async () => {
      started = true;
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return rejectResult(new AbortedError(what, { cause: signal.reason }));
      try {
        resolveResult(await operation());
      } catch (error) {
        rejectResult(error);
      }
    });
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every operation queued so far on `key` has settled (at once if none). */
  pending(key: string): Promise<void> | undefined {
    return this.tails.get(key);
  }

  /** Resolves once every operation queued so far on a key starting with `prefix` has settled. */
  pendingUnder(prefix: string): Promise<unknown> | undefined {
    const pending = [...this.tails].filter(([key]) => key.startsWith(prefix)).map(([, tail]) => tail);
    return pending.length > 0 ? Promise.all(pending) : undefined;
  }

  /** Resolves once every operation queued so far has settled. */
  drain(): Promise<void> {
    return Promise.all(this.tails.values()).then(() => undefined);
  }
}

/** @internal Resolves or rejects with `promise`, or rejects with `AbortedError` as soon as `signal` fires. */
export function untilSettled<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((res, rej) => {
    const onAbort = (): void => rej(new AbortedError(what, { cause: signal.reason }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        res(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        rej(error);
      },
    );
  });
}

/** @internal The queue key of a store key; '/' cannot occur in either part, so it is unambiguous. */
export function queueKey(collection: string, id: string): string {
  return `${collection}/${id}`;
}
