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

/** An OpenAI penalty: a number in −2..2 (OpenAI's range, which the route schema checks), 0 when absent. */
function penalty(body: Body, name: 'frequency_penalty' | 'presence_penalty'): number {
  const value = body[name];
  return present(value) ? (value as number) : 0;
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
 * @internal `logit_bias` (an object of token-id strings → −100..100, as the route schema checks) →
 * the model's `logitBias`; `undefined` when absent or empty. The model checks that the ids are
 * inside its vocabulary.
 */
export function openAiLogitBias(body: Body): Record<number, number> | undefined {
  if (!present(body.logit_bias)) return undefined;
  const entries = Object.entries(body.logit_bias as Record<string, number>);
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([token, value]) => [Number(token), value]));
}

/**
 * @internal What the completion routes take beyond sampling, once the route schema checked the
 * shapes and ranges (`n` 1..{@link MAX_CHOICES}; `logprobs` a boolean, or the legacy completions'
 * k, 0..5 alternatives; `top_logprobs` 0..20; `user` a string, accepted and ignored): `top_logprobs`
 * above 0 needs `logprobs: true`, as OpenAI. Returns `n`, whether logprobs were asked for and how
 * many alternatives.
 */
export function checkUnsupported(body: Body): { logprobs: boolean; topLogprobs: number; n: number } {
  const n = present(body.n) ? (body.n as number) : 1;
  const logprobs = body.logprobs;
  const asked = logprobs === true || typeof logprobs === 'number';
  const top = typeof logprobs === 'number' ? logprobs : present(body.top_logprobs) ? (body.top_logprobs as number) : 0;
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
