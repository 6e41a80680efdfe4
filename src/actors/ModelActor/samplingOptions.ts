import type { LlamaGrammar, LlamaGrammarEvaluationState, Token } from 'node-llama-cpp';
import type { NativeSampling } from './native/types.js';
import type { ResolvedGenerationParams } from './resolveGenerationParams.js';

/** @internal Sampling options for node-llama-cpp; the repeat penalty reads the tokens generated so far. */
export function evaluateOptions(
  params: ResolvedGenerationParams,
  generated: Token[],
  grammarEvaluationState: LlamaGrammarEvaluationState | undefined,
) {
  const penalty = params.repeatPenalty;
  return {
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

/** @internal The native engine's sampling for resolved params (the grammar as GBNF text). */
export function nativeSampling(params: ResolvedGenerationParams, grammar: LlamaGrammar | undefined, confidence: boolean, maxTokens: number): NativeSampling {
  return {
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
