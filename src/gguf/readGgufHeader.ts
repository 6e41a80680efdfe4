import type { FileHandle } from 'node:fs/promises';
import { AbortedError } from '../messaging/errors.js';

/**
 * A GGUF header that is malformed: a length that runs past the end of the file, an unknown type,
 * a bad version. The message names the key or tensor and the numbers, never the file's bytes.
 *
 * @internal
 */
export class GgufFormatError extends Error {}

/** GGUF `gguf_type` codes. @internal */
export const GgufType = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;

const T = GgufType;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPE_NAMES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'];

/** The name of a `gguf_type` code, e.g. `uint32`. @internal */
export function ggufTypeName(type: number | undefined): string {
  return TYPE_NAMES[type ?? -1] ?? `unknown type ${type}`;
}

/** @internal One metadata entry of a GGUF header; `offset` is where the entry (its key) starts. */
export interface GgufHeaderKv {
  readonly key: string;
  readonly type: number;
  readonly offset: number;
  readonly valueOffset: number;
  /** Scalars and short strings; undefined for arrays and skipped strings. */
  readonly value: number | bigint | boolean | string | undefined;
  /** For arrays: the item type and count. */
  readonly itemType?: number;
  readonly count?: number;
}

/** @internal One tensor info of a GGUF header; `offset` is where the info (its name) starts. */
export interface GgufHeaderTensor {
  readonly name: string;
  readonly offset: number;
  readonly dims: readonly bigint[];
  readonly type: number;
  /** Offset of the data from the start of the data section. */
  readonly dataOffset: bigint;
}

/** @internal A GGUF header, parsed with every count and length checked against the file size. */
export interface GgufHeader {
  readonly version: number;
  readonly kvs: ReadonlyMap<string, GgufHeaderKv>;
  readonly tensors: readonly GgufHeaderTensor[];
  /** Byte after the last tensor info; the data starts at the next multiple of `alignment`. */
  readonly headerEnd: number;
  readonly alignment: number;
  readonly fileSize: number;
}

const DEFAULT_ALIGNMENT = 32;
/** llama.cpp's GGML_MAX_NAME: a tensor name must be shorter. */
const MAX_TENSOR_NAME = 64;
const MAX_DIMS = 4;
/** Smallest metadata entry (empty key, type, one byte) and tensor info (empty name, one dimension). */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
/** Keys and string values longer than this are not read (string values are skipped): no key checked is that long. */
const MAX_READ_STRING = 1 << 16;
const CHUNK = 1 << 20;

/**
 * Parses the header of an open GGUF file of `size` bytes: version, metadata and tensor infos (not
 * the tensor data), reading it in chunks of 1 MiB. Every count and length is checked against the
 * file size before it is used, so a crafted count never makes it allocate or loop beyond the file.
 * Throws {@link GgufFormatError}, `AbortedError` or the read's own I/O error.
 *
 * @internal
 */
export async function readGgufHeader(handle: FileHandle, size: number, signal?: AbortSignal): Promise<GgufHeader> {
  const r = new ChunkReader(handle, size, signal);
  if (size === 0) throw new GgufFormatError('the file is empty');
  if (size < 4 || (await r.bytes(4)).toString('latin1') !== 'GGUF') throw new GgufFormatError('it does not start with the GGUF magic');
  await r.ensure(20, 'the header');
  const version = r.u32();
  if (version !== 2 && version !== 3) throw new GgufFormatError(`GGUF version is ${version}, must be 2 or 3`);
  const tensorCount = r.u64();
  const kvCount = r.u64();
  const least = 24n + kvCount * BigInt(MIN_KV_BYTES) + tensorCount * BigInt(MIN_TENSOR_INFO_BYTES);
  if (least > BigInt(size)) {
    throw new GgufFormatError(
      `the header claims ${kvCount} metadata keys and ${tensorCount} tensors, which need at least ${least} bytes but the file has ${size}`,
    );
  }
  const kvs = new Map<string, GgufHeaderKv>();
  for (let i = 0; i < Number(kvCount); i++) {
    const kv = await readKv(r, i);
    if (kvs.has(kv.key)) throw new GgufFormatError(`metadata key ${kv.key} appears twice`);
    kvs.set(kv.key, kv);
  }
  const tensors: GgufHeaderTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const tensor = await readTensorInfo(r, i);
    if (names.has(tensor.name)) throw new GgufFormatError(`tensor ${tensor.name} appears twice`);
    names.add(tensor.name);
    tensors.push(tensor);
  }
  return { version, kvs, tensors, headerEnd: r.position, alignment: alignmentOf(kvs), fileSize: size };
}

function alignmentOf(kvs: ReadonlyMap<string, GgufHeaderKv>): number {
  const kv = kvs.get('general.alignment');
  if (!kv) return DEFAULT_ALIGNMENT;
  const value = Number(kv.value);
  if (kv.type !== T.U32 || value <= 0 || (value & (value - 1)) !== 0) {
    const shown = kv.type === T.U32 ? `uint32 ${value}` : `a ${ggufTypeName(kv.type)}`;
    throw new GgufFormatError(`general.alignment is ${shown}, must be a uint32 power of two`);
  }
  return value;
}

async function readKv(r: ChunkReader, index: number): Promise<GgufHeaderKv> {
  const offset = r.position;
  const key = await readString(r, `metadata key ${index}`, MAX_READ_STRING);
  if (key === undefined) throw new GgufFormatError(`metadata key ${index} is longer than ${MAX_READ_STRING} bytes`);
  const what = `metadata ${key}`;
  await r.ensure(4, what);
  const type = r.u32();
  const valueOffset = r.position;
  if (type === T.ARRAY) {
    await r.ensure(12, what);
    const itemType = r.u32();
    const count = r.u64();
    // llama.cpp reads no nested arrays.
    if (itemType === T.ARRAY || TYPE_NAMES[itemType] === undefined) throw new GgufFormatError(`${what} is an array of unknown type ${itemType}`);
    const least = count * BigInt(FIXED_SIZE[itemType] ?? 8);
    if (BigInt(r.position) + least > BigInt(r.size)) {
      throw new GgufFormatError(`${what} has ${count} items, which need at least ${least} bytes from byte ${r.position} but the file has ${r.size}`);
    }
    if (itemType === T.STRING) await skipStrings(r, Number(count), key);
    else r.skip(Number(least), what);
    return { key, type, offset, valueOffset, value: undefined, itemType, count: Number(count) };
  }
  if (type === T.STRING) return { key, type, offset, valueOffset, value: await readString(r, what, MAX_READ_STRING) };
  const size = FIXED_SIZE[type];
  if (size === undefined) throw new GgufFormatError(`${what} has unknown value type ${type}`);
  await r.ensure(size, what);
  return { key, type, offset, valueOffset, value: r.scalar(type) };
}

/** Skips `count` strings, checking each length; synchronous while the window holds them (vocabularies have 100k+). */
async function skipStrings(r: ChunkReader, count: number, key: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!r.has(8)) await r.ensure(8, `metadata ${key}[${i}]`);
    r.skip(r.checkLength(r.u64(), `metadata ${key}[${i}]`), `metadata ${key}[${i}]`);
  }
}

/** A string, or undefined (skipped) when it is longer than `limit` bytes. */
async function readString(r: ChunkReader, what: string, limit: number): Promise<string | undefined> {
  await r.ensure(8, what);
  const length = r.checkLength(r.u64(), what);
  if (length > limit) {
    r.skip(length, what);
    return undefined;
  }
  return (await r.bytes(length, what)).toString('utf8');
}

async function readTensorInfo(r: ChunkReader, index: number): Promise<GgufHeaderTensor> {
  const offset = r.position;
  const name = await readString(r, `tensor info ${index}'s name`, MAX_TENSOR_NAME - 1);
  if (name === undefined) throw new GgufFormatError(`tensor info ${index}'s name is ${MAX_TENSOR_NAME} bytes or longer`);
  await r.ensure(4, `tensor ${name}`);
  const nDims = r.u32();
  if (nDims < 1 || nDims > MAX_DIMS) throw new GgufFormatError(`tensor ${name} has ${nDims} dimensions, must be 1 to ${MAX_DIMS}`);
  await r.ensure(nDims * 8 + 12, `tensor ${name}`);
  const dims = Array.from({ length: nDims }, () => r.u64());
  return { name, offset, dims, type: r.u32(), dataOffset: r.u64() };
}

/** Little-endian reads from a file through a window of {@link CHUNK} bytes (or one field, if longer). */
class ChunkReader {
  position = 0;
  #buffer = Buffer.alloc(0);
  #start = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Whether the window already holds `bytes` from the position. */
  has(bytes: number): boolean {
    return this.position >= this.#start && this.position + bytes <= this.#start + this.#buffer.length;
  }

  /** Makes `bytes` from the position readable, or fails naming `what` the file ends inside. */
  async ensure(bytes: number, what: string): Promise<void> {
    if (this.has(bytes)) return;
    if (this.position + bytes > this.size) {
      throw new GgufFormatError(`the file ends inside ${what}: it needs ${bytes} bytes at byte ${this.position} but the file has ${this.size}`);
    }
    if (this.signal?.aborted) throw new AbortedError('checking a model file', { cause: this.signal.reason });
    const length = Math.min(Math.max(CHUNK, bytes), this.size - this.position);
    const buffer = Buffer.allocUnsafe(length);
    for (let read = 0; read < length; ) {
      const { bytesRead } = await this.handle.read(buffer, read, length - read, this.position + read);
      if (bytesRead === 0) throw new GgufFormatError(`the file ended at byte ${this.position + read} while being read (it had ${this.size})`);
      read += bytesRead;
    }
    this.#buffer = buffer;
    this.#start = this.position;
  }

  /** A length field as a number, if that many bytes fit in the rest of the file. */
  checkLength(length: bigint, what: string): number {
    if (BigInt(this.position) + length > BigInt(this.size)) {
      throw new GgufFormatError(`${what} is ${length} bytes long from byte ${this.position} but the file has ${this.size}`);
    }
    return Number(length);
  }

  skip(bytes: number, what: string): void {
    if (this.position + bytes > this.size) throw new GgufFormatError(`the file ends inside ${what}`);
    this.position += bytes;
  }

  async bytes(length: number, what = 'the header'): Promise<Buffer> {
    await this.ensure(length, what);
    return this.#take(length);
  }

  u32(): number {
    return this.#take(4).readUInt32LE(0);
  }

  u64(): bigint {
    return this.#take(8).readBigUInt64LE(0);
  }

  scalar(type: number): number | bigint | boolean {
    const b = this.#take(FIXED_SIZE[type]!);
    switch (type) {
      case T.U8: return b.readUInt8(0);
      case T.I8: return b.readInt8(0);
      case T.U16: return b.readUInt16LE(0);
      case T.I16: return b.readInt16LE(0);
      case T.U32: return b.readUInt32LE(0);
      case T.I32: return b.readInt32LE(0);
      case T.F32: return b.readFloatLE(0);
      case T.BOOL: return b.readUInt8(0) !== 0;
      case T.U64: return b.readBigUInt64LE(0);
      case T.I64: return b.readBigInt64LE(0);
      default: return b.readDoubleLE(0);
    }
  }

  #take(bytes: number): Buffer {
    const at = this.position - this.#start;
    this.position += bytes;
    return this.#buffer.subarray(at, at + bytes);
  }
}
