import type { ChatWrapper, Llama, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import type { AdapterContexts } from './AdapterContexts.js';
import type { ModelEngine, ModelInfo } from './types.js';

/** @internal How every context of a model is created (the same for each adapter set). */
export interface ContextSettings {
  engine: ModelEngine;
  contextSize: number;
  slots: number;
  threads: number;
  batchSize: number;
  flashAttention: boolean | 'auto';
  maxQueue: number;
}

/** @internal What exists while the model is loaded; {@link freeLoadedModel} frees all of it. */
export interface LoadedModel {
  llama: Llama;
  /** Whether the actor got its `Llama` itself (then it disposes it), rather than from its options. */
  ownsLlama: boolean;
  /** node-llama-cpp's model: vocabulary only when the native engine holds the weights. */
  model: LlamaModel;
  /** node-llama-cpp's model with weights, for what only node-llama-cpp serves (adapters, embeddings). */
  weights: () => Promise<LlamaModel>;
  /** The weights' load if it was started, without starting it. */
  startedWeights: () => Promise<LlamaModel> | undefined;
  /** One context per adapter set in use. */
  contexts: AdapterContexts;
  settings: ContextSettings;
  /** node-llama-cpp's estimate of one context's memory, in bytes. */
  contextBytes: number;
  chatWrapper: ChatWrapper;
  info: ModelInfo;
  embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
}

/**
 * @internal Frees a loaded model: its embedding context, every adapter set's context, the weights
 * (adapter weights belong to the model in node-llama-cpp, so they go with it) and the `Llama` if
 * the actor owns it. Call it only once no slot is leased: no sequence is disposed mid-generation.
 */
export async function freeLoadedModel(loaded: LoadedModel): Promise<void> {
  const embedding = await loaded.embeddingContext?.catch(() => undefined);
  await embedding?.dispose();
  await loaded.contexts.close();
  const weights = await loaded.startedWeights()?.catch(() => undefined);
  if (weights !== loaded.model) await weights?.dispose();
  await loaded.model.dispose();
  if (loaded.ownsLlama) await loaded.llama.dispose();
}
