import type { RepeatPenaltyParams } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';

type Body = Record<string, unknown>;

/** Most choices one request may ask for (`n`): each is a sequence of its own on the model. */
export const MAX_CHOICES = 8;

/** Most tokens the OpenAI penalties look back on (the whole completion, up to this). */
const PENALTY_WINDOW = 4096;

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** An OpenAI penalty: a number in −2..2 (OpenAI's range), 0 when absent. */
function penalty(body: Body, name: 'frequency_penalty' | 'presence_penalty'): number {
  const value = body[name];
  if (!present(value)) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < -2 || value > 2) {
    throw new InvalidArgumentError(`${name} must be a number from -2 to 2, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * @internal `frequency_penalty` / `presence_penalty` → the model's `repeatPenalty` (the multiplicative
 * penalty off), over the whole completion as OpenAI applies them (up to {@link PENALTY_WINDOW} tokens).
 * `undefined` when both are 0.
 */
export function openAiPenalties(body: Body, maxTokens: unknown): RepeatPenaltyParams | undefined {
  const frequencyPenalty = penalty(body, 'frequency_penalty');
  const presencePenalty = penalty(body, 'presence_penalty');
  if (frequencyPenalty === 0 && presencePenalty === 0) return undefined;
  const window = typeof maxTokens === 'number' && Number.isInteger(maxTokens) && maxTokens > 0 ? Math.min(maxTokens, PENALTY_WINDOW) : 256;
  return { penalty: 1, lastTokens: window, frequencyPenalty, presencePenalty };
}

/**
 * @internal Refuses what the completion routes cannot honour, instead of ignoring it: `logit_bias`
 * (the native engine's sampler chain has no logit-bias sampler bound), `top_logprobs` above 0 (the
 * engines give the chosen token's probability only). `n` must be 1..{@link MAX_CHOICES}. `user` is
 * accepted and ignored (an end-user id for abuse tracking). Returns `n` and whether logprobs were asked for.
 */
export function checkUnsupported(body: Body): { logprobs: boolean; n: number } {
  if (present(body.logit_bias)) {
    const bias = body.logit_bias;
    if (typeof bias !== 'object' || Array.isArray(bias)) throw new InvalidArgumentError('logit_bias must be an object of token id → bias');
    if (Object.keys(bias as object).length > 0) {
      throw new UnsupportedParameterError('logit_bias', 'the native engine has no logit-bias sampler; token biases would be ignored');
    }
  }
  if (present(body.user) && typeof body.user !== 'string') throw new InvalidArgumentError('user must be a string');
  const n = present(body.n) ? body.n : 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHOICES) {
    throw new InvalidArgumentError(`n must be an integer from 1 to ${MAX_CHOICES}, got ${JSON.stringify(n)}`);
  }
  // Chat takes `logprobs: boolean` + `top_logprobs`; the legacy completions route takes `logprobs: <number of alternatives>`.
  const logprobs = body.logprobs;
  let top = body.top_logprobs;
  let asked = false;
  let topField = 'top_logprobs';
  if (present(logprobs)) {
    if (typeof logprobs === 'boolean') asked = logprobs;
    else if (typeof logprobs === 'number' && Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= 5) {
      asked = true;
      top = logprobs;
      topField = 'logprobs';
    } else throw new InvalidArgumentError(`logprobs must be a boolean (or, for /v1/completions, an integer 0..5), got ${JSON.stringify(logprobs)}`);
  }
  if (present(top)) {
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20) {
      throw new InvalidArgumentError(`top_logprobs must be an integer from 0 to 20, got ${JSON.stringify(top)}`);
    }
    if (top > 0) throw new UnsupportedParameterError(topField, 'the engines give the chosen token’s logprob only, not alternatives');
  }
  return { logprobs: asked, n };
}

/** @internal One entry of OpenAI's `logprobs.content`. */
export interface OpenAiTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: never[];
}

/**
 * @internal Turns token events into OpenAI logprob entries whose tokens concatenate to the text:
 * a token whose text is held back (a possible stop string, a split UTF-8 character) adds its
 * logprob to the entry of the text that is finally released.
 */
export class LogprobEntries {
  private pending = 0;

  push(event: Pick<TokenStreamEvent, 'content' | 'logprob'>): OpenAiTokenLogprob | undefined {
    this.pending += event.logprob ?? 0;
    if (!event.content) return undefined;
    const entry = { token: event.content, logprob: this.pending, bytes: [...Buffer.from(event.content, 'utf8')], top_logprobs: [] };
    this.pending = 0;
    return entry;
  }
}

/**
 * @internal The events of several streams as they come, each with its stream's index; every
 * iterator is returned when the merge ends (early or not), so a client gone cancels them all.
 */
export async function* mergeStreams<T>(iterators: AsyncIterator<T>[]): AsyncGenerator<{ index: number; event: T }> {
  const next = (index: number) => iterators[index]!.next().then((step) => ({ index, step }));
  const pending = new Map(iterators.map((_, index) => [index, next(index)] as const));
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      if (step.done) {
        pending.delete(index);
        continue;
      }
      pending.set(index, next(index));
      yield { index, event: step.value };
    }
  } finally {
    for (const promise of pending.values()) promise.catch(() => {});
    await Promise.all(iterators.map((iterator) => iterator.return?.().catch(() => {})));
  }
}
