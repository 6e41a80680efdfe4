import { availableParallelism } from 'node:os';
import { ModelLoadError } from './modelErrors.js';
import { loadNativeInference } from './native/nativeLlama.js';
import type { ModelEngine } from './types.js';

/**
 * Default CPU threads: every core for the native engine (its thread pool persists and a second
 * thread gained 1.2–2.0×), all cores but one for node-llama-cpp (which starts threads on every
 * decode; see README, "Threads").
 */
export function defaultThreads(cores = availableParallelism(), engine: ModelEngine = 'node-llama-cpp'): number {
  return engine === 'native' ? Math.max(1, cores) : Math.max(1, cores - 1);
}

/**
 * The engine a model gets: `auto` is native on CPU when its bindings load, else node-llama-cpp.
 *
 * @throws {ModelLoadError} when `native` is asked for and cannot be used.
 */
export function chooseEngine(wanted: ModelEngine | 'auto', gpu: boolean): ModelEngine {
  if (wanted === 'node-llama-cpp' || (wanted === 'auto' && gpu)) return 'node-llama-cpp';
  try {
    loadNativeInference();
    return 'native';
  } catch (error) {
    if (wanted === 'auto') return 'node-llama-cpp';
    throw new ModelLoadError(`the native engine cannot be used: ${(error as Error).message}`, { cause: error });
  }
}

/** Default parallel sequences: 8 on a GPU; on CPU two per core, capped at 8. */
export function defaultSlots(gpu: boolean, cores = availableParallelism()): number {
  return gpu ? 8 : Math.min(8, Math.max(2, cores * 2));
}
