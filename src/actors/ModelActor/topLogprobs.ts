import type { LlamaModel, Token } from 'node-llama-cpp';
import type { TopLogprob } from '../../messaging/TokenStreamEvent.js';
import type { NativeToken } from './native/types.js';

/**
 * The floor of a reported log-probability (OpenAI's value for "effectively never"): node-llama-cpp
 * computes probabilities in 32-bit floats, where a token far below a forced one is exactly 0, and
 * `-Infinity` would not survive JSON.
 */
export const MIN_LOGPROB = -9999;

/** One step of node-llama-cpp's `evaluateWithMetadata`, with the metadata this module reads. */
interface NodeLlamaOutput {
  token: Token;
  confidence?: number;
  /** Every candidate's probability, most likely first (a Map keeps insertion order). */
  probabilities?: Map<Token, number>;
}

/**
 * @internal node-llama-cpp's outputs as the native engine's tokens: its `probabilities` (sorted,
 * most likely first) cut to the `top` first as log-probabilities. Returning early returns the source.
 */
export async function* nodeLlamaTopLogprobs(outputs: AsyncIterable<NodeLlamaOutput>, top: number): AsyncGenerator<NativeToken, void> {
  for await (const { token, confidence, probabilities } of outputs) {
    const alternatives: Array<{ token: number; logprob: number }> = [];
    for (const [candidate, probability] of probabilities ?? []) {
      if (alternatives.length === top) break;
      alternatives.push({ token: candidate, logprob: Math.log(probability) });
    }
    yield { token, ...(confidence === undefined ? {} : { confidence }), topLogprobs: alternatives };
  }
}

/**
 * @internal A step's alternatives with their text, each token detokenized alone after the tokens
 * that precede the step (SPM tokenizers drop a first token's leading space without them): the last
 * of `sequence` (what the slot held) and of `sampled` (the tokens sampled since, this step's last).
 */
export function topLogprobTexts(
  model: LlamaModel,
  alternatives: NativeToken['topLogprobs'],
  sequence: readonly number[],
  sampled: readonly number[],
): TopLogprob[] | undefined {
  if (alternatives === undefined) return undefined;
  const recent = sampled.slice(Math.max(0, sampled.length - 5), -1);
  const context = recent.length >= 4 ? recent : [...sequence.slice(Math.max(0, sequence.length - 4 + recent.length)), ...recent];
  return alternatives.map(({ token, logprob }) => ({
    tokenId: token,
    text: model.detokenize([token as Token], false, context as Token[]),
    logprob: Math.max(logprob, MIN_LOGPROB),
  }));
}
