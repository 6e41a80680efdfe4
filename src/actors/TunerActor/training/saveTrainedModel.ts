import { rename, rm } from 'node:fs/promises';
import type { LlamaNative } from './llamaNative.js';
import type { NativeCallMode } from './RunTrainingOptions.js';
import { setGgufUint32 } from './setGgufUint32.js';

/** Where and how {@link saveTrainedModel} writes. */
export interface SaveTrainedModelOptions {
  /** The file written first, renamed to `outputPath` once complete. */
  partialPath: string;
  outputPath: string;
  nativeCalls: NativeCallMode;
  /**
   * The base model's context length, written back into the GGUF when it differs from the training
   * context: `llama_opt_init` overwrites it with the training context. `undefined` keeps what llama.cpp wrote.
   */
  contextLength: number | undefined;
}

/**
 * Saves the trained weights with `llama_model_save_to_file` to a partial file and renames it, so
 * that a stopped or failed run never leaves a file at the output path.
 */
export async function saveTrainedModel(native: LlamaNative, model: bigint, options: SaveTrainedModelOptions): Promise<void> {
  const { fn } = native;
  const { partialPath } = options;
  await rm(partialPath, { force: true });
  if (options.nativeCalls === 'sync') {
    fn.llama_model_save_to_file(model, partialPath);
  } else {
    await new Promise<void>((resolve, reject) => {
      fn.llama_model_save_to_file.async(model, partialPath, (error) => (error ? reject(error as Error) : resolve()));
    });
  }
  if (options.contextLength !== undefined) {
    const architecture = modelArchitecture(native, model);
    if (architecture !== undefined) setGgufUint32(partialPath, `${architecture}.context_length`, options.contextLength);
  }
  await rename(partialPath, options.outputPath);
}

function modelArchitecture(native: LlamaNative, model: bigint): string | undefined {
  const buffer = Buffer.alloc(256);
  const length = native.fn.llama_model_meta_val_str(model, 'general.architecture', buffer, buffer.length);
  return length > 0 ? buffer.toString('utf8', 0, Math.min(length, buffer.length - 1)) : undefined;
}
