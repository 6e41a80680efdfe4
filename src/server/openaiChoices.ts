import type { GenerationUsage } from '../actors/ModelActor/types.js';
import { FinishReason } from '../messaging/TokenStreamEvent.js';
import type { OpenAiTokenLogprob } from './openaiParams.js';

/** @internal What every choice and chunk of one chat or text completion answer names. */
export interface CompletionAnswer {
  kind: 'chat' | 'text';
  /** `chatcmpl-…` or `cmpl-…`. */
  id: string;
  /** Seconds since the epoch. */
  created: number;
  model: string;
  logprobs: boolean;
}

/** @internal */
export function finishReason(reason: string | undefined): string {
  if (reason === FinishReason.ToolCalls) return 'tool_calls';
  return reason === FinishReason.Length ? 'length' : 'stop';
}

/** @internal */
export function openAiUsage(usage: Partial<GenerationUsage> | undefined) {
  return {
    prompt_tokens: usage?.promptTokens ?? 0,
    completion_tokens: usage?.completionTokens ?? 0,
    total_tokens: usage?.totalTokens ?? 0,
    // OpenAI's field for prompt tokens served from cache: here, from the slot's KV cache.
    prompt_tokens_details: { cached_tokens: usage?.cachedPromptTokens ?? 0 },
  };
}

/** The usage of all choices: the prompt counted once (as OpenAI does), the completions summed. *
 * @internal
 */
export function choicesUsage(usages: (Partial<GenerationUsage> | undefined)[]) {
  const each = usages.map(openAiUsage);
  const first = each[0] ?? openAiUsage(undefined);
  const completion = each.reduce((sum, u) => sum + u.completion_tokens, 0);
  return { ...first, completion_tokens: completion, total_tokens: first.prompt_tokens + completion };
}

/**
 * A choice's `logprobs`: chat's `{content: [{token, logprob, bytes, top_logprobs}]}`, or the legacy
 * completions' `{tokens, token_logprobs, top_logprobs, text_offset}` (offsets from `offset`), whose
 * `top_logprobs` are `{token: logprob}` objects: the alternatives and, as OpenAI's, the chosen token
 * (up to `k + 1` keys; `{}` when no alternatives were asked for).
 *
 * @internal
 */
export function openAiLogprobs(kind: 'chat' | 'text', entries: OpenAiTokenLogprob[], offset: number) {
  if (kind === 'chat') return { content: entries, refusal: null };
  const textOffset: number[] = [];
  for (const entry of entries) {
    textOffset.push(offset);
    offset += entry.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map(legacyTopLogprobs),
    text_offset: textOffset,
  };
}

/** An entry's alternatives as the legacy `{token: logprob}` (the first of equal texts kept), with the chosen token. */
function legacyTopLogprobs(entry: OpenAiTokenLogprob): Record<string, number> {
  if (entry.top_logprobs.length === 0) return {};
  const top = new Map<string, number>();
  for (const { token, logprob } of entry.top_logprobs) if (!top.has(token)) top.set(token, logprob);
  if (!top.has(entry.token)) top.set(entry.token, entry.logprob);
  // fromEntries defines own properties: a token `__proto__` stays a key.
  return Object.fromEntries(top);
}
