/** A LoRA adapter to apply, by file path. */
export interface AdapterSpec {
  /** Path of the adapter GGUF. */
  path: string;
  /** Multiplies the adapter's update (llama.cpp applies `scale · alpha / rank`); 0 disables it, negative inverts it. Defaults to `1`. */
  scale?: number;
}

/** An adapter in a set: absolute path and scale. */
export interface AppliedAdapter {
  path: string;
  scale: number;
}

/** Payload of {@link ModelMessage.ApplyAdapter}. */
export interface ApplyAdapterRequest {
  path: string;
  /** Defaults to `1`. */
  scale?: number;
}

/** Payload of {@link ModelMessage.RemoveAdapter}. */
export interface RemoveAdapterRequest {
  /** The adapter to remove. Defaults to all of them. */
  path?: string;
}

/** Payload of {@link ModelMessage.SetAdapterScale}. */
export interface SetAdapterScaleRequest {
  path: string;
  scale: number;
}

/** One llama.cpp context serving one adapter set. */
export interface AdapterContextInfo {
  adapters: AppliedAdapter[];
  /** Whether this is the model's adapter set (kept while idle); other contexts are freed when idle. */
  isDefault: boolean;
  slots: number;
  busySlots: number;
  queueDepth: number;
  /** node-llama-cpp's estimate of the context's memory (KV cache and compute buffers), in bytes. */
  estimatedBytes: number;
}

/** Reply of the adapter messages: the model's adapter set and the contexts alive now. */
export interface AdapterListing {
  /** The model's adapter set, used by requests that do not name one. */
  applied: AppliedAdapter[];
  contexts: AdapterContextInfo[];
  /** The most contexts (adapter sets served at once), the default set's included. */
  maxContexts: number;
}
