import type { FileHandle } from 'node:fs/promises';
import type { GgufTensor } from './inspectGgufModel.js';
import { decodeGgufTensor, readGgufTensorBytes } from './readGgufTensor.js';

/** How one tensor changed between the base and the trained model. */
export interface TensorChange {
  /** `ΔW = W_trained − W_base`, in ggml order. */
  delta: Float64Array;
  /** `‖ΔW‖_F²`. */
  energy: number;
  /** `‖W_base‖_F²`. */
  baseEnergy: number;
}

/**
 * Reads a tensor from both open models and returns its change, or `undefined` when it did not
 * change: same bytes, or the same values in another encoding (e.g. F16 base, F32 trained copy).
 */
export async function readTensorChange(
  baseFile: FileHandle,
  trainedFile: FileHandle,
  baseTensor: GgufTensor,
  trainedTensor: GgufTensor,
): Promise<TensorChange | undefined> {
  const [baseBytes, trainedBytes] = await Promise.all([
    readGgufTensorBytes(baseFile, baseTensor),
    readGgufTensorBytes(trainedFile, trainedTensor),
  ]);
  if (baseTensor.type === trainedTensor.type && baseBytes.equals(trainedBytes)) return undefined;
  const baseValues = decodeGgufTensor(baseTensor, baseBytes);
  const trainedValues = decodeGgufTensor(trainedTensor, trainedBytes);
  const delta = new Float64Array(baseValues.length);
  let energy = 0;
  let baseEnergy = 0;
  for (let i = 0; i < delta.length; i++) {
    const difference = trainedValues[i]! - baseValues[i]!;
    delta[i] = difference;
    energy += difference * difference;
    baseEnergy += baseValues[i]! * baseValues[i]!;
  }
  // Same values in another encoding: nothing learned here.
  return energy === 0 ? undefined : { delta, energy, baseEnergy };
}
