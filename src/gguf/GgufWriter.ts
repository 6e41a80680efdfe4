import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { float32ToFloat16 } from './float16.js';
import { GgmlType, ggmlTypeSize } from './GgmlType.js';
import type { GgufValue } from './GgufValue.js';

/**
 * Produces a tensor's values chunk by chunk, in ggml order (dimension 0 varies fastest).
 * `chunk` is to be filled completely with the elements starting at index `firstIndex`; the
 * writer calls it for consecutive chunks, in order, so a fill may keep state such as a PRNG.
 *
 * @internal
 */
export type TensorFill = (chunk: Float32Array, firstIndex: number) => void;

/** A tensor's values: all of them at once, or a {@link TensorFill} for tensors too big to hold. @internal */
export type TensorData = Float32Array | TensorFill;

/** What {@link GgufWriter.writeTo} wrote. @internal */
export interface GgufWriteResult {
  readonly path: string;
  readonly bytes: number;
}

interface TensorEntry {
  readonly name: string;
  readonly type: GgmlType;
  readonly shape: readonly number[];
  readonly elements: number;
  readonly data: TensorData;
  readonly offset: number;
}

const GGUF_MAGIC = 0x4655_4747; // "GGUF" read as a little-endian uint32
const GGUF_VERSION = 3;
const DEFAULT_ALIGNMENT = 32;
/** Elements converted per fill call: big enough to amortize the call, small enough to stay in cache. */
const CHUNK_ELEMENTS = 1 << 18;
/** Bytes buffered before a write syscall. */
const WRITE_BUFFER_BYTES = 4 << 20;

/** GGUF's `gguf_type` codes. */
const ValueType = {
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
} as const;

/**
 * A minimal GGUF v3 writer: metadata of the handful of types llama.cpp models need, and F32 / F16
 * tensors. Tensor data is streamed to disk, so a file may be far larger than memory.
 *
 * The file is written under a temporary name and renamed into place only once complete, so a run
 * that is killed half-way never leaves a truncated file behind that a cache would take for valid.
 *
 * ```ts
 * const writer = new GgufWriter();
 * writer.set('general.architecture', GgufValue.string('llama'));
 * writer.addTensor('output_norm.weight', GgmlType.F32, [64], new Float32Array(64).fill(1));
 * await writer.writeTo('models/x.gguf');
 * ```
 *
 * @internal
 */
export class GgufWriter {
  readonly #alignment: number;
  readonly #metadata = new Map<string, GgufValue>();
  readonly #tensors: TensorEntry[] = [];
  #dataBytes = 0;

  /** @param alignment - data alignment in bytes; anything but 32 is also recorded as `general.alignment`. */
  constructor(alignment = DEFAULT_ALIGNMENT) {
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new RangeError(`alignment must be a power of two, got ${alignment}`);
    }
    this.#alignment = alignment;
    if (alignment !== DEFAULT_ALIGNMENT) {
      this.#metadata.set('general.alignment', { type: 'uint32', value: alignment });
    }
  }

  /** Sets a metadata key. Keys are unique in GGUF (llama.cpp refuses duplicates), so setting one twice throws. */
  set(key: string, value: GgufValue): this {
    if (this.#metadata.has(key)) throw new Error(`duplicate GGUF key '${key}'`);
    this.#metadata.set(key, value);
    return this;
  }

  /**
   * Adds a tensor. `shape` is in ggml order: `[ne0, ne1, ...]`, where ne0 is the contiguous
   * dimension, so a `{n_in, n_out}` weight matrix is stored as n_out rows of n_in values.
   */
  addTensor(name: string, type: GgmlType, shape: readonly number[], data: TensorData): this {
    if (this.#tensors.some((t) => t.name === name)) throw new Error(`duplicate tensor '${name}'`);
    if (shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new RangeError(`tensor '${name}' has invalid shape [${shape.join(', ')}]`);
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (data instanceof Float32Array && data.length !== elements) {
      throw new RangeError(`tensor '${name}' has ${data.length} values for shape [${shape.join(', ')}]`);
    }
    // llama.cpp checks that every offset equals the padded end of the previous tensor.
    this.#tensors.push({ name, type, shape: [...shape], elements, data, offset: this.#dataBytes });
    this.#dataBytes += alignUp(elements * ggmlTypeSize(type), this.#alignment);
    return this;
  }

  /** Writes the whole file to `path` (atomically, via a temporary file in the same directory). */
  async writeTo(path: string): Promise<GgufWriteResult> {
    if (endianness() !== 'LE') throw new Error('GGUF files written here must be little-endian');
    const temporaryPath = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
    const file = await open(temporaryPath, 'w');
    let bytes: number;
    try {
      const output = new BufferedOutput(file);
      await output.write(this.#header());
      await output.pad(this.#alignment);
      for (const tensor of this.#tensors) {
        await writeTensorData(output, tensor);
        await output.pad(this.#alignment);
      }
      bytes = await output.close();
    } catch (error) {
      await file.close().catch(() => undefined);
      await rm(temporaryPath, { force: true });
      throw error;
    }
    await file.close();
    await rename(temporaryPath, path);
    return { path, bytes };
  }

  #header(): Uint8Array {
    const out = new ByteBuilder();
    out.uint32(GGUF_MAGIC);
    out.uint32(GGUF_VERSION);
    out.uint64(this.#tensors.length);
    out.uint64(this.#metadata.size);
    for (const [key, value] of this.#metadata) {
      out.string(key);
      writeValue(out, value);
    }
    for (const tensor of this.#tensors) {
      out.string(tensor.name);
      out.uint32(tensor.shape.length);
      for (const dimension of tensor.shape) out.uint64(dimension);
      out.uint32(tensor.type);
      out.uint64(tensor.offset);
    }
    return out.toBytes();
  }
}

function writeValue(out: ByteBuilder, value: GgufValue): void {
  switch (value.type) {
    case 'uint32':
      out.uint32(ValueType.UINT32);
      out.uint32(value.value);
      return;
    case 'int32':
      out.uint32(ValueType.INT32);
      out.int32(value.value);
      return;
    case 'float32':
      out.uint32(ValueType.FLOAT32);
      out.float32(value.value);
      return;
    case 'bool':
      out.uint32(ValueType.BOOL);
      out.uint8(value.value ? 1 : 0);
      return;
    case 'string':
      out.uint32(ValueType.STRING);
      out.string(value.value);
      return;
    case 'string[]':
      out.uint32(ValueType.ARRAY);
      out.uint32(ValueType.STRING);
      out.uint64(value.value.length);
      for (const item of value.value) out.string(item);
      return;
    case 'float32[]':
      out.uint32(ValueType.ARRAY);
      out.uint32(ValueType.FLOAT32);
      out.uint64(value.value.length);
      for (let i = 0; i < value.value.length; i++) out.float32(value.value[i]!);
      return;
    case 'int32[]':
      out.uint32(ValueType.ARRAY);
      out.uint32(ValueType.INT32);
      out.uint64(value.value.length);
      for (let i = 0; i < value.value.length; i++) out.int32(value.value[i]!);
      return;
  }
}

async function writeTensorData(output: BufferedOutput, tensor: TensorEntry): Promise<void> {
  const { data, elements, type } = tensor;
  if (data instanceof Float32Array && type === GgmlType.F32) {
    await output.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const chunk = new Float32Array(Math.min(CHUNK_ELEMENTS, elements));
  const halves = type === GgmlType.F16 ? new Uint16Array(chunk.length) : undefined;
  for (let first = 0; first < elements; first += chunk.length) {
    const count = Math.min(chunk.length, elements - first);
    const values = count === chunk.length ? chunk : chunk.subarray(0, count);
    if (data instanceof Float32Array) values.set(data.subarray(first, first + count));
    else data(values, first);
    if (halves === undefined) {
      await output.write(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    } else {
      const target = count === halves.length ? halves : halves.subarray(0, count);
      float32ToFloat16(values, target);
      await output.write(new Uint8Array(target.buffer, target.byteOffset, target.byteLength));
    }
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Collects bytes so small writes do not each become a syscall; tracks the position for padding. */
class BufferedOutput {
  readonly #file: FileHandle;
  readonly #buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  #used = 0;
  #position = 0;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const count = Math.min(bytes.length - offset, this.#buffer.length - this.#used);
      this.#buffer.set(bytes.subarray(offset, offset + count), this.#used);
      this.#used += count;
      offset += count;
      if (this.#used === this.#buffer.length) await this.#flush();
    }
    this.#position += bytes.length;
  }

  async pad(alignment: number): Promise<void> {
    const padding = alignUp(this.#position, alignment) - this.#position;
    if (padding > 0) await this.write(new Uint8Array(padding));
  }

  /** Flushes, syncs and returns the number of bytes written; the caller closes the file. */
  async close(): Promise<number> {
    await this.#flush();
    // Sync before the rename so the name never points at data still sitting in the page cache.
    await this.#file.sync();
    return this.#position;
  }

  async #flush(): Promise<void> {
    let written = 0;
    while (written < this.#used) {
      const { bytesWritten } = await this.#file.write(this.#buffer, written, this.#used - written);
      written += bytesWritten;
    }
    this.#used = 0;
  }
}

/** Little-endian byte serialization of the header, which is small enough to build in memory. */
class ByteBuilder {
  #buffer = Buffer.alloc(1 << 16);
  #length = 0;

  uint8(value: number): void {
    this.#reserve(1);
    this.#length = this.#buffer.writeUInt8(value, this.#length);
  }

  uint32(value: number): void {
    this.#reserve(4);
    this.#length = this.#buffer.writeUInt32LE(value, this.#length);
  }

  int32(value: number): void {
    this.#reserve(4);
    this.#length = this.#buffer.writeInt32LE(value, this.#length);
  }

  uint64(value: number): void {
    this.#reserve(8);
    this.#length = this.#buffer.writeBigUInt64LE(BigInt(value), this.#length);
  }

  float32(value: number): void {
    this.#reserve(4);
    this.#length = this.#buffer.writeFloatLE(value, this.#length);
  }

  /** GGUF strings: uint64 byte length, then UTF-8 bytes without a terminator. */
  string(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.uint64(length);
    this.#reserve(length);
    this.#length += this.#buffer.write(value, this.#length, 'utf8');
  }

  toBytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}
