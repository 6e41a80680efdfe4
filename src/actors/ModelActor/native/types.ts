/** How the native engine samples one sequence's next token (resolved generation params). */
export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  /** Defaults to a random seed. */
  seed?: number | undefined;
  repeatPenalty?: { lastTokens: number; penalty: number; frequencyPenalty: number; presencePenalty: number } | undefined;
  /** A GBNF grammar (root rule `root`) the output must match. */
  grammar?: string | undefined;
  /** Report each token's probability under the model's distribution as `confidence`. */
  confidence?: boolean | undefined;
  /** Report this many most likely tokens at each step, with their log-probabilities under the model's distribution. Defaults to `0`. */
  topLogprobs?: number | undefined;
  /** Added to the logits of these tokens before anything else samples (llama.cpp's `logit_bias` sampler). Defaults to none. */
  logitBias?: ReadonlyArray<{ token: number; bias: number }> | undefined;
  /** Stop feeding the sequence after this many generated tokens (the consumer stops there too). */
  maxTokens: number;
}

/** One generated token as the engine hands it to its consumer. */
export interface NativeToken {
  token: number;
  /** Probability of the token under the model's raw distribution, when asked for. */
  confidence?: number;
  /** The most likely tokens at this step under the model's raw distribution, most likely first, when asked for. */
  topLogprobs?: Array<{ token: number; logprob: number }>;
}

/** Settings of one {@link NativeEngine}: a llama.cpp context with one sequence per slot. */
export interface NativeEngineSettings {
  modelPath: string;
  /** Tokens each slot's sequence can hold. */
  contextSize: number;
  slots: number;
  /** CPU threads for decoding (a persistent ggml thread pool of this size is attached). */
  threads: number;
  /** Most tokens one `llama_decode` takes (prompt chunks and every stream's next token together). */
  batchSize: number;
  flashAttention: boolean | 'auto';
}
