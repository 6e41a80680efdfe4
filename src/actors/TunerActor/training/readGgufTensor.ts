import type { FileHandle } from 'node:fs/promises';
import { GgmlType } from 'node-llama-cpp';
import { float16ToFloat32 } from '../../../gguf/float16.js';
import type { GgufTensor } from './inspectGgufModel.js';

const BYTES_PER_ELEMENT: Partial<Record<number, number>> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2, [GgmlType.BF16]: 2 };

/** Bytes of `tensor`'s data on disk, for the unquantized types {@link readGgufTensor} reads. */
export function ggufTensorBytes(tensor: GgufTensor): number {
  const size = BYTES_PER_ELEMENT[tensor.type];
  if (size === undefined) throw new Error(`tensor ${tensor.name} is ${tensor.typeName}; only F32, F16 and BF16 can be read`);
  return tensor.elements * size;
}

/** Reads a tensor's raw bytes from an open GGUF file (see {@link inspectGgufModel} for the offsets). */
export async function readGgufTensorBytes(file: FileHandle, tensor: GgufTensor): Promise<Buffer> {
  const bytes = ggufTensorBytes(tensor);
  const buffer = Buffer.allocUnsafe(bytes);
  let read = 0;
  while (read < bytes) {
    const { bytesRead } = await file.read(buffer, read, bytes - read, tensor.fileOffset + read);
    if (bytesRead === 0) throw new Error(`${tensor.name}: file ends after ${read} of ${bytes} bytes`);
    read += bytesRead;
  }
  return buffer;
}

/**
 * Decodes raw F32 / F16 / BF16 tensor bytes (little-endian, as GGUF stores them) to float32 values,
 * in ggml order (dimension 0 fastest).
 */
export function decodeGgufTensor(tensor: GgufTensor, bytes: Buffer): Float32Array {
  // Copy into an aligned buffer: a typed array view needs an offset that is a multiple of the element size.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  if (tensor.type === GgmlType.F32) return new Float32Array(aligned.buffer);
  const halves = new Uint16Array(aligned.buffer);
  const values = new Float32Array(halves.length);
  if (tensor.type === GgmlType.F16) {
    float16ToFloat32(halves, values);
  } else if (tensor.type === GgmlType.BF16) {
    // bfloat16 is the top half of a float32.
    const bits = new Uint32Array(values.buffer);
    for (let i = 0; i < halves.length; i++) bits[i] = halves[i]! << 16;
  } else {
    throw new Error(`tensor ${tensor.name} is ${tensor.typeName}; only F32, F16 and BF16 can be decoded`);
  }
  return values;
}
