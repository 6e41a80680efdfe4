import type { UpstreamOrigin } from './remoteErrors.js';
import { upstreamFailure } from './upstreamError.js';

/** @internal Where a single request goes and what to tell of it. */
export interface UpstreamCall {
  origin: UpstreamOrigin;
  signal: AbortSignal;
  timeoutMs: number;
  /** Called before the one extra try, so that the caller can count it. */
  onRetry?: () => void;
}

/**
 * @internal One request that is not a stream (embeddings, `/models`, `/tokenize`, `/detokenize`),
 * its failure turned into the runtime's typed error. A first try that got no answer at all is sent
 * once more at once: most often the kept-alive connection it went out on had been closed by the
 * remote while it idled (llama-server closes them after 5 s), so the remote never saw the request
 * and the second try goes out on a new connection. These requests change nothing upstream, so a
 * repeat is safe; anything else the remote answered is final here (streams have their own retries).
 */
export async function callUpstream<T>(call: UpstreamCall, run: () => PromiseLike<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await run();
    } catch (thrown) {
      const failure = upstreamFailure(thrown, call.origin, { signal: call.signal, timeoutMs: call.timeoutMs, attempts: attempt });
      if (failure.noAnswer !== true || attempt > 1 || call.signal.aborted) throw failure.error;
      call.onRetry?.();
    }
  }
}
