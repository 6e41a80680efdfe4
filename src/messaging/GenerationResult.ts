import type { ActorError } from './errors.js';
import type { DataIn, DefaultStreamShape, FinishReason, UsageIn } from './TokenStreamEvent.js';

/** The summary of a finished stream: what `collectWithMetadata()` and `streamAsk` return. */
export interface GenerationResult<S = DefaultStreamShape> {
  /** All `token` contents, concatenated. */
  text: string;
  /** Number of `token` events. */
  tokenCount: number;
  /** Why the stream ended: the producer's `finishReason` on `done`, else `cancelled`, `timeout` or `error`. */
  finishReason: FinishReason;
  /** From the request being accepted to the terminal event, in ms. */
  totalTimeMs: number;
  /** From the request being accepted to the first `token`, in ms; `undefined` when no token came. */
  timeToFirstTokenMs: number | undefined;
  /**
   * Decode rate: the producer's `tokensPerSecond` on `done` when it sent one, else tokens after
   * the first divided by the time between the first and the last token; `0` with fewer than 2 tokens.
   */
  tokensPerSecond: number;
  /** The producer's token accounting, when it sent one on `done`. */
  usage?: UsageIn<S>;
  /** The `data` of the `done` event: the final result of a non-text job (evaluation, training). */
  data?: S extends { data?: infer D } ? (unknown extends D ? Record<string, unknown> : D) : Record<string, unknown>;
  /** Set when the stream ended with an `error` event. */
  error?: ActorError;
}
