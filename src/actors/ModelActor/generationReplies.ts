import { AbortedError, ActorError } from '../../messaging/errors.js';
import { FinishReason, type StreamCallback, type TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { GeneratedToken, GenerationEnd } from './generateTokens.js';
import type { GenerateResult } from './types.js';

type Generation = AsyncGenerator<GeneratedToken, GenerationEnd>;

/**
 * @internal The two ways a generation is answered: as stream events (`stream`, `streamAsk`) or as
 * one result (`ask`). Both drive the generator to its end, so its lease is given back either way.
 */
export const generationReplies = {
  /** A `token` event per token, then `done` with the usage (nothing after a cancel: the router sent the end). */
  async stream(generation: Generation, onChunk: StreamCallback<TokenStreamEventInput>): Promise<void> {
    let end: GenerationEnd;
    try {
      let step = await generation.next();
      while (!step.done) {
        const token = step.value;
        await onChunk({
          type: 'token',
          content: token.text,
          ...(token.tokenId === undefined ? {} : { tokenId: token.tokenId }),
          tokensPerSecond: token.tokensPerSecond,
          ...(token.logprob === undefined ? {} : { logprob: token.logprob }),
          ...(token.topLogprobs === undefined ? {} : { topLogprobs: token.topLogprobs }),
          ...(token.toolCall === undefined ? {} : { toolCall: token.toolCall }),
        });
        step = await generation.next();
      }
      end = step.value;
    } finally {
      // A consumer callback that throws must still close the generator: its finally gives the slot back.
      await generation.return(undefined as never).catch(() => {});
    }
    if (end.finishReason === FinishReason.Cancelled) return;
    await onChunk({
      type: 'done',
      finishReason: end.finishReason,
      tokensPerSecond: end.usage.tokensPerSecond,
      // The whole GenerationUsage (queue time and cached tokens too): a TokenUsage with extras.
      usage: withoutUndefined(end.usage),
      ...(end.toolCalls ? { data: { toolCalls: end.toolCalls } } : {}),
    });
  },

  /** The whole text and usage; a cancelled generation rejects with the abort's reason. */
  async result(generation: Generation, signal: AbortSignal): Promise<GenerateResult> {
    let step = await generation.next();
    while (!step.done) step = await generation.next();
    if (step.value.finishReason === FinishReason.Cancelled) {
      throw signal.reason instanceof ActorError ? signal.reason : new AbortedError('generate');
    }
    return step.value;
  },
};

/** Leaves optional fields out rather than undefined, so events serialize cleanly. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
