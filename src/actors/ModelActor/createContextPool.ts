import type { LlamaModel } from 'node-llama-cpp';
import type { Clock } from '../../messaging/Clock.js';
import { AdapterLoadError } from './adapterErrors.js';
import { adapterSetKey } from './adapterSetKey.js';
import { ContextPool, type PoolContext } from './ContextPool.js';
import type { ContextSettings } from './LoadedModel.js';
import { InvalidModelFileError } from './modelErrors.js';
import { NativeEngine } from './native/NativeEngine.js';
import { NativeModelLoadError } from './native/nativeErrors.js';
import type { AppliedAdapter } from './types.js';

/** @internal What {@link createContextPool} needs of the model. */
export interface PoolSource {
  modelPath: string;
  /** node-llama-cpp's model with weights (loaded on first call where the native engine serves the base set). */
  weights: () => Promise<LlamaModel>;
  settings: ContextSettings;
  clock: Clock;
}

/**
 * @internal A pool whose context is being created for `adapters` (not yet registered anywhere).
 * The base set on the native engine gets a {@link NativeEngine}; every other set a node-llama-cpp
 * context, because only node-llama-cpp applies LoRA adapters.
 */
export function createContextPool(source: PoolSource, adapters: readonly AppliedAdapter[]): ContextPool {
  const { slots, maxQueue } = source.settings;
  return new ContextPool({
    key: adapterSetKey(adapters),
    adapters,
    createContext: () => createContext(source, adapters),
    slots,
    maxQueue,
    clock: source.clock,
  });
}

async function createContext(source: PoolSource, adapters: readonly AppliedAdapter[]): Promise<PoolContext> {
  const { engine, contextSize, slots, threads, batchSize, flashAttention } = source.settings;
  if (engine === 'native' && adapters.length === 0) {
    const modelPath = source.modelPath;
    return NativeEngine.create({ modelPath, contextSize, slots, threads, batchSize, flashAttention }).catch((error: unknown) => {
      throw error instanceof NativeModelLoadError ? new InvalidModelFileError(modelPath, `llama.cpp refused it: ${error.message}`) : error;
    });
  }
  const model = await source.weights();
  try {
    return await model.createContext({
      contextSize,
      sequences: slots,
      threads,
      batchSize,
      flashAttention,
      ...(adapters.length > 0 ? { lora: { adapters: adapters.map((adapter) => ({ filePath: adapter.path, scale: adapter.scale })) } } : {}),
    });
  } catch (error) {
    if (adapters.length === 0) throw error;
    throw new AdapterLoadError(`llama.cpp could not apply ${adapters.map((a) => a.path).join(', ')}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
