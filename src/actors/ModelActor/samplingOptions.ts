import { type LlamaGrammar, type LlamaGrammarEvaluationState, type LlamaModel, type Token, TokenBias } from 'node-llama-cpp';
import type { NativeSampling } from './native/types.js';
import type { LogitBias, ResolvedGenerationParams } from './resolveGenerationParams.js';

/**
 * @internal Sampling options for node-llama-cpp; the repeat penalty reads the tokens generated so far.
 * `model` is the sequence's (a token bias must come from it); without it `logitBias` is not applied.
 */
export function evaluateOptions(
  params: ResolvedGenerationParams,
  generated: Token[],
  grammarEvaluationState: LlamaGrammarEvaluationState | undefined,
  model?: LlamaModel,
) {
  const penalty = params.repeatPenalty;
  const tokenBias = model && params.logitBias.length > 0 ? nodeLlamaTokenBias(model, params.logitBias) : undefined;
  return {
    ...(tokenBias ? { tokenBias } : {}),
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    minP: params.minP,
    ...(params.seed === undefined ? {} : { seed: params.seed }),
    ...(grammarEvaluationState ? { grammarEvaluationState } : {}),
    ...(penalty && penalty.lastTokens > 0
      ? {
          repeatPenalty: {
            punishTokens: () => generated.slice(-penalty.lastTokens),
            maxPunishTokens: penalty.lastTokens,
            penalty: penalty.penalty,
            frequencyPenalty: penalty.frequencyPenalty,
            presencePenalty: penalty.presencePenalty,
          },
        }
      : {}),
  };
}

/**
 * @internal node-llama-cpp's token bias for `logitBias`: each bias added to its token's logit, as the
 * native engine's `logit_bias` sampler does. `TokenBias.set` skips end-of-generation tokens; their
 * biases go straight into its map (what `set` fills and the sampler reads), so banning the end works.
 */
export function nodeLlamaTokenBias(model: LlamaModel, biases: readonly LogitBias[]): TokenBias {
  const tokenBias = TokenBias.for(model);
  const map: unknown = Reflect.get(tokenBias, '_biases');
  for (const { token, bias } of biases) {
    if (map instanceof Map && model.isEogToken(token as Token)) map.set(token, bias);
    else tokenBias.set(token as Token, { logit: bias });
  }
  return tokenBias;
}

/** @internal The native engine's sampling for resolved params (the grammar as GBNF text). */
export function nativeSampling(
  params: ResolvedGenerationParams,
  grammar: LlamaGrammar | undefined,
  confidence: boolean,
  maxTokens: number,
  topLogprobs = 0,
): NativeSampling {
  return {
    logitBias: params.logitBias,
    topLogprobs,
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    minP: params.minP,
    seed: params.seed,
    repeatPenalty: params.repeatPenalty,
    grammar: grammar?.grammar,
    confidence,
    maxTokens,
  };
}
