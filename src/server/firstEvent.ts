import { ActorError, ErrorCode } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { StreamEventType, type TokenStreamEvent } from '../messaging/TokenStreamEvent.js';

/**
 * @internal Waits for a stream's first event before a route answers: a stream that never started,
 * or whose first event is an error (queue full, a bad parameter, a model that failed to load), is
 * thrown as its typed error, so the route answers a plain HTTP error with its status rather than a
 * 200 whose body says it failed. Returns the iterator and the first step.
 */
export async function firstEvent<S>(
  stream: GenerationStream<S>,
): Promise<{ events: AsyncIterator<TokenStreamEvent<S>>; step: IteratorResult<TokenStreamEvent<S>> }> {
  const events = stream[Symbol.asyncIterator]();
  let step: IteratorResult<TokenStreamEvent<S>>;
  try {
    step = await events.next(); // a stream that never started rejects here, typed
  } catch (error) {
    await events.return?.();
    throw error;
  }
  if (!step.done && step.value.type === StreamEventType.Error) {
    await events.return?.();
    throw stream.stats.error ?? new ActorError(step.value.code ?? ErrorCode.ActorFailed, step.value.error ?? 'stream failed');
  }
  return { events, step };
}
