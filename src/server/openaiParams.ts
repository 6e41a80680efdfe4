import type { RepeatPenaltyParams } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { TokenStreamEvent } from '../messaging/TokenStreamEvent.js';

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

/** OpenAI's `logit_bias` range: −100 effectively bans a token, +100 effectively forces it. */
const MAX_LOGIT_BIAS = 100;

/** Most alternatives per token: chat's `top_logprobs`, and the legacy completions' `logprobs: k`. */
const MAX_TOP_LOGPROBS = { top_logprobs: 20, logprobs: 5 } as const;

/**
 * @internal `logit_bias` (an object of token-id strings → −100..100) → the model's `logitBias`;
 * `undefined` when absent or empty. The model checks that the ids are inside its vocabulary.
 */
export function openAiLogitBias(body: Body): Record<number, number> | undefined {
  const bias = body.logit_bias;
  if (!present(bias)) return undefined;
  if (typeof bias !== 'object' || Array.isArray(bias)) {
    throw new InvalidArgumentError(`logit_bias must be an object of token id → bias, got ${JSON.stringify(bias)}`);
  }
  const entries = Object.entries(bias as object);
  for (const [token, value] of entries) {
    if (!/^(0|[1-9]\d{0,9})$/.test(token)) throw new InvalidArgumentError(`logit_bias keys must be token ids (integers ≥ 0), got ${JSON.stringify(token)}`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < -MAX_LOGIT_BIAS || value > MAX_LOGIT_BIAS) {
      throw new InvalidArgumentError(`logit_bias[${JSON.stringify(token)}] must be a number from -${MAX_LOGIT_BIAS} to ${MAX_LOGIT_BIAS}, got ${JSON.stringify(value)}`);
    }
  }
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([token, value]) => [Number(token), value as number]));
}

/**
 * @internal Checks what the completion routes take beyond sampling: `n` must be 1..{@link MAX_CHOICES};
 * `user` is accepted and ignored (an end-user id for abuse tracking). Chat takes `logprobs: boolean` and
 * `top_logprobs` 0..20 (above 0 only with `logprobs: true`, as OpenAI); the legacy completions route
 * takes `logprobs: k` (0..5 alternatives). Returns `n`, whether logprobs were asked for and how many alternatives.
 */
export function checkUnsupported(body: Body): { logprobs: boolean; topLogprobs: number; n: number } {
  if (present(body.user) && typeof body.user !== 'string') throw new InvalidArgumentError('user must be a string');
  const n = present(body.n) ? body.n : 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_CHOICES) {
    throw new InvalidArgumentError(`n must be an integer from 1 to ${MAX_CHOICES}, got ${JSON.stringify(n)}`);
  }
  const logprobs = body.logprobs;
  let top = body.top_logprobs;
  let asked = false;
  let topField: keyof typeof MAX_TOP_LOGPROBS = 'top_logprobs';
  if (present(logprobs)) {
    if (typeof logprobs === 'boolean') asked = logprobs;
    else if (typeof logprobs === 'number' && Number.isInteger(logprobs) && logprobs >= 0 && logprobs <= MAX_TOP_LOGPROBS.logprobs) {
      asked = true;
      top = logprobs;
      topField = 'logprobs';
    } else {
      throw new InvalidArgumentError(
        `logprobs must be a boolean (or, for /v1/completions, an integer 0..${MAX_TOP_LOGPROBS.logprobs}), got ${JSON.stringify(logprobs)}`,
      );
    }
  }
  if (!present(top)) return { logprobs: asked, topLogprobs: 0, n };
  const max = MAX_TOP_LOGPROBS[topField];
  if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > max) {
    throw new InvalidArgumentError(`${topField} must be an integer from 0 to ${max}, got ${JSON.stringify(top)}`);
  }
  if (top > 0 && !asked) throw new InvalidArgumentError(`top_logprobs ${top} needs logprobs: true`);
  return { logprobs: asked, topLogprobs: top, n };
}

/** @internal One of chat's `top_logprobs`: an alternative at a token. */
export interface OpenAiTopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

/** @internal One entry of OpenAI's `logprobs.content`. */
export interface OpenAiTokenLogprob extends OpenAiTopLogprob {
  top_logprobs: OpenAiTopLogprob[];
}

/**
 * @internal Turns token events into OpenAI logprob entries whose tokens concatenate to the text:
 * a token whose text is held back (a possible stop string, a split UTF-8 character) adds its
 * logprob to the entry of the text that is finally released, which lists the alternatives at the
 * first of its tokens (where the entry's text starts).
 */
export class LogprobEntries {
  private pending = 0;
  private pendingTop: OpenAiTopLogprob[] | undefined;

  push(event: Pick<TokenStreamEvent, 'content' | 'logprob' | 'topLogprobs'>): OpenAiTokenLogprob | undefined {
    this.pending += event.logprob ?? 0;
    this.pendingTop ??= event.topLogprobs?.map(({ text, logprob }) => ({ token: text, logprob, bytes: utf8Bytes(text) }));
    if (!event.content) return undefined;
    const entry = { token: event.content, logprob: this.pending, bytes: utf8Bytes(event.content), top_logprobs: this.pendingTop ?? [] };
    this.pending = 0;
    this.pendingTop = undefined;
    return entry;
  }
}

function utf8Bytes(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
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
