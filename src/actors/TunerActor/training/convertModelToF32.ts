import { rm } from 'node:fs/promises';
import { LlamaFtype, type LlamaNative } from './llamaNative.js';
import { ModelLoadFailedError } from './trainingErrors.js';

/**
 * Writes an all-F32 copy of an F16 / BF16 model with `llama_model_quantize` (on a koffi worker
 * thread): the optimizer step exists only for F32 weights.
 *
 * @throws {ModelLoadFailedError} when llama.cpp cannot convert it; no partial copy is left.
 */
export async function convertModelToF32(native: LlamaNative, input: string, output: string, threads: number): Promise<void> {
  const params = native.fn.llama_model_quantize_default_params();
  params.ftype = LlamaFtype.AllF32;
  params.nthread = threads;
  params.allow_requantize = false;
  const status = await new Promise<number>((resolve, reject) => {
    native.fn.llama_model_quantize.async(input, output, params, (error, result) => (error ? reject(error as Error) : resolve(result)));
  });
  if (status !== 0) {
    await rm(output, { force: true });
    throw new ModelLoadFailedError(input, `converting it to F32 failed (llama_model_quantize returned ${status})`);
  }
}
