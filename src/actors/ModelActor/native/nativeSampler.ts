import { InvalidParameterError } from '../modelErrors.js';
import type { NativeInferenceFunctions } from './nativeLlama.js';
import type { NativeSampling } from './types.js';

/** llama.cpp's `LLAMA_DEFAULT_SEED`: the `dist` sampler picks a random seed. */
const RANDOM_SEED = 0xffffffff;

/**
 * @internal Logit biases packed as an array of `llama_logit_bias` (an `int32_t` token then a `float`
 * bias, 8 bytes), in the platform's byte order.
 */
export function packLogitBias(biases: ReadonlyArray<{ token: number; bias: number }>): Uint8Array {
  const tokens = new Int32Array(biases.length * 2);
  const floats = new Float32Array(tokens.buffer);
  for (const [i, { token, bias }] of biases.entries()) {
    tokens[i * 2] = token;
    floats[i * 2 + 1] = bias;
  }
  return new Uint8Array(tokens.buffer);
}

/**
 * @internal A llama.cpp sampler chain for one sequence, in llama.cpp's own order (logit bias, grammar,
 * penalties, top-k, top-p, min-p, temperature, then the pick). Temperature 0 picks greedily, as node-llama-cpp
 * does. The caller frees it with `llama_sampler_free`.
 */
export function createNativeSampler(fn: NativeInferenceFunctions, vocab: bigint, nVocab: number, sampling: NativeSampling): bigint {
  const chain = fn.llama_sampler_chain_init({ no_perf: true });
  if (!chain) throw new Error('llama_sampler_chain_init returned NULL');
  const add = (sampler: bigint | null, what: string) => {
    if (!sampler) {
      fn.llama_sampler_free(chain);
      throw new InvalidParameterError(what, 'llama.cpp refused it');
    }
    fn.llama_sampler_chain_add(chain, sampler);
  };
  const biases = sampling.logitBias ?? [];
  if (biases.length > 0) add(fn.llama_sampler_init_logit_bias(nVocab, biases.length, packLogitBias(biases)), 'logitBias');
  if (sampling.grammar !== undefined) add(fn.llama_sampler_init_grammar(vocab, sampling.grammar, 'root'), 'jsonSchema');
  const penalty = sampling.repeatPenalty;
  if (penalty && penalty.lastTokens > 0) {
    add(
      fn.llama_sampler_init_penalties(nVocab, penalty.lastTokens, penalty.penalty, penalty.frequencyPenalty, penalty.presencePenalty),
      'repeatPenalty',
    );
  }
  if (sampling.temperature === 0) {
    add(fn.llama_sampler_init_greedy(), 'temperature');
    return chain;
  }
  if (sampling.topK > 0) add(fn.llama_sampler_init_top_k(sampling.topK), 'topK');
  if (sampling.topP < 1) add(fn.llama_sampler_init_top_p(sampling.topP, 1), 'topP');
  if (sampling.minP > 0) add(fn.llama_sampler_init_min_p(sampling.minP, 1), 'minP');
  add(fn.llama_sampler_init_temp(sampling.temperature), 'temperature');
  add(fn.llama_sampler_init_dist(sampling.seed ?? RANDOM_SEED), 'seed');
  return chain;
}
