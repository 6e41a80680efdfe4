import { AbortedError } from './errors.js';

/**
 * @internal Waits for `promise`, or rejects with `ABORTED` (naming `what`) as soon as `signal`
 * fires, whichever comes first. The abort listener is removed either way, so a long-lived signal
 * (a server's, a session's) does not collect one listener per wait.
 */
export async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) throw new AbortedError(what, { cause: signal.reason });
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(new AbortedError(what, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
