/**
 * A corpus of broken GGUF files made from a good one (the tiny model): truncated at several
 * offsets, with hyperparameters set to 0 or to absurd values, huge counts and lengths, tensor
 * offsets past the end, unknown types, a bad version, a wrong magic. Each is made on demand, in
 * memory, so a test can write one at a time and keep the corpus's disk use to one file.
 */
import { open, readFile } from 'node:fs/promises';
import { type GgufHeader, type GgufHeaderKv, type GgufHeaderTensor, readGgufHeader } from '../../src/gguf/readGgufHeader.js';

/** One broken file: how to make it and what the error about it must say. */
export interface CorruptModel {
  /** A file-name-safe name, e.g. `head-count-zero`. */
  readonly name: string;
  /** A piece of the expected error message (naming the key or tensor and the numbers). */
  readonly expect: string;
  readonly make: () => Uint8Array;
}

/** A replacement metadata value: its GGUF type and its encoded bytes. */
type Edit = readonly [type: number, value: Buffer];

const U32 = 4;
const F32 = 6;
const STRING = 8;
const ARRAY = 9;

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function u64(value: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

function str(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([u64(bytes.length), bytes]);
}

/** A metadata entry: key, type and encoded value. */
function entry(key: string, type: number, value: Buffer): Buffer {
  return Buffer.concat([str(key), u32(type), value]);
}

function uint(key: string, value: number): Buffer {
  return entry(key, U32, u32(value));
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** The broken files made from the GGUF at `path` (the tiny model). */
export async function loadCorruptModels(path: string): Promise<CorruptModel[]> {
  const handle = await open(path, 'r');
  try {
    const header = await readGgufHeader(handle, (await handle.stat()).size);
    return corruptModels(await readFile(path), header);
  } finally {
    await handle.close();
  }
}

/**
 * The broken files, made from `source` (the good file's bytes) and its parsed header. The good
 * file is expected to be the tiny llama model: 4 heads, 2 KV heads, key_length set, 512 tokens.
 */
export function corruptModels(source: Buffer, header: GgufHeader): CorruptModel[] {
  const c = new Crafter(source, header);
  return [...fileCases(c), ...hyperparameterCases(c), ...metadataTypeCases(c), ...tensorCases(c)];
}

/** Makers of modified copies of the source file. */
class Crafter {
  constructor(
    readonly source: Buffer,
    readonly header: GgufHeader,
  ) {}

  kv(key: string): GgufHeaderKv {
    const found = this.header.kvs.get(key);
    if (!found) throw new Error(`the source model has no ${key}`);
    return found;
  }

  tensor(name: string): GgufHeaderTensor {
    const found = this.header.tensors.find((t) => t.name === name);
    if (!found) throw new Error(`the source model has no tensor ${name}`);
    return found;
  }

  /** Byte offsets of a tensor info's fields (after its name). */
  fields(t: GgufHeaderTensor) {
    const nDims = t.offset + 8 + Buffer.byteLength(t.name);
    const type = nDims + 4 + 8 * t.dims.length;
    return { nDims, dims: nDims + 4, type, dataOffset: type + 4 };
  }

  /** The source with bytes overwritten in place. */
  patched(...edits: Array<readonly [number, Buffer]>): () => Uint8Array {
    return () => {
      const copy = Buffer.from(this.source);
      for (const [at, bytes] of edits) bytes.copy(copy, at);
      return copy;
    };
  }

  cut(length: number): () => Uint8Array {
    return () => this.source.subarray(0, length);
  }

  setU32(key: string, value: number): () => Uint8Array {
    return this.patched([this.kv(key).valueOffset, u32(value)]);
  }

  rebuild(edits: Record<string, Edit | null>, extra: Buffer[] = []): () => Uint8Array {
    return () => rebuilt(this.source, this.header, edits, extra);
  }

  /** A llama hyperparameter's key. */
  hp(name: string): string {
    return `llama.${name}`;
  }

  zero(name: string): CorruptModel {
    return { name: `${name.replace(/\W/g, '-')}-zero`, expect: `${this.hp(name)} is 0, must be at least 1`, make: this.setU32(this.hp(name), 0) };
  }
}

/** The file as a whole: empty, magic, version, truncations, counts and lengths past the end, unknown types. */
function fileCases(c: Crafter): CorruptModel[] {
  const tokens = c.kv('tokenizer.ggml.tokens');
  const size = c.header.fileSize;
  const header = c.header;
  return [
    { name: 'empty', expect: 'the file is empty', make: () => new Uint8Array(0) },
    { name: 'text-file', expect: 'does not start with the GGUF magic', make: () => Buffer.from('root:x:0:0:root:/root:/bin/bash\n') },
    { name: 'wrong-magic', expect: 'does not start with the GGUF magic', make: c.patched([0, Buffer.from('GGUX')]) },
    { name: 'version-1', expect: 'GGUF version is 1, must be 2 or 3', make: c.patched([4, u32(1)]) },
    { name: 'version-big-endian', expect: 'GGUF version is 50331648, must be 2 or 3', make: c.patched([4, Buffer.from([0, 0, 0, 3])]) },
    { name: 'truncated-in-header', expect: 'the file ends inside the header', make: c.cut(14) },
    { name: 'truncated-in-metadata', expect: `tokenizer.ggml.tokens has 512 items`, make: c.cut(tokens.valueOffset + 3000) },
    { name: 'truncated-in-tensor-infos', expect: "tensor info 8's name is", make: c.cut(c.tensor('blk.0.ffn_up.weight').offset + 10) },
    { name: 'truncated-after-header', expect: `tensor token_embd.weight data ends at byte`, make: c.cut(header.headerEnd + 100) },
    { name: 'truncated-in-data', expect: `tensor output.weight data ends at byte ${size} but the file has ${size - 1000}`, make: c.cut(size - 1000) },
    { name: 'huge-kv-count', expect: 'the header claims 4611686018427387904 metadata keys', make: c.patched([16, u64(1n << 62n)]) },
    { name: 'huge-tensor-count', expect: '1099511627776 tensors', make: c.patched([8, u64(1n << 40n)]) },
    { name: 'huge-key-length', expect: 'metadata key 0 is 1125899906842624 bytes long', make: c.patched([24, u64(1n << 50n)]) },
    { name: 'huge-string-length', expect: 'metadata general.name is 1099511627776 bytes long', make: c.patched([c.kv('general.name').valueOffset, u64(1n << 40n)]) },
    { name: 'huge-array-count', expect: 'metadata tokenizer.ggml.tokens has 1099511627776 items', make: c.patched([tokens.valueOffset + 4, u64(1n << 40n)]) },
    { name: 'huge-token-length', expect: 'metadata tokenizer.ggml.tokens[0] is 281474976710656 bytes long', make: c.patched([tokens.valueOffset + 12, u64(1n << 48n)]) },
    { name: 'unknown-value-type', expect: 'metadata general.file_type has unknown value type 77', make: c.patched([c.kv('general.file_type').valueOffset - 4, u32(77)]) },
    { name: 'nested-array', expect: 'metadata tokenizer.ggml.scores is an array of unknown type 9', make: c.patched([c.kv('tokenizer.ggml.scores').valueOffset, u32(ARRAY)]) },
  ];
}

/** Hyperparameters at 0, missing, absurd, or not dividing each other; several of these aborted llama.cpp. */
function hyperparameterCases(c: Crafter): CorruptModel[] {
  return [
    c.zero('attention.head_count'),
    c.zero('attention.head_count_kv'),
    c.zero('block_count'),
    c.zero('embedding_length'),
    c.zero('context_length'),
    c.zero('feed_forward_length'),
    {
      name: 'heads-do-not-divide-embedding',
      expect: 'llama.embedding_length 64 is not a multiple of llama.attention.head_count 3',
      make: c.rebuild({ [c.hp('attention.key_length')]: null, [c.hp('attention.value_length')]: null, [c.hp('attention.head_count')]: [U32, u32(3)] }),
    },
    { name: 'kv-heads-do-not-divide-heads', expect: 'llama.attention.head_count 4 is not a multiple of llama.attention.head_count_kv 3', make: c.setU32(c.hp('attention.head_count_kv'), 3) },
    { name: 'head-count-absurd', expect: 'llama.attention.head_count 4294967295 is not a multiple of', make: c.setU32(c.hp('attention.head_count'), 0xffff_ffff) },
    { name: 'block-count-absurd', expect: 'llama.block_count is 4294967295, must be at most 512', make: c.setU32(c.hp('block_count'), 0xffff_ffff) },
    { name: 'block-count-513', expect: 'llama.block_count is 513, must be at most 512', make: c.setU32(c.hp('block_count'), 513) },
    { name: 'expert-count-1025', expect: 'llama.expert_count is 1025, must be at most 1024', make: c.rebuild({}, [uint(c.hp('expert_count'), 1025), uint(c.hp('expert_used_count'), 2)]) },
    { name: 'expert-used-over-count', expect: 'llama.expert_used_count is 8, more than llama.expert_count 4', make: c.rebuild({}, [uint(c.hp('expert_count'), 4), uint(c.hp('expert_used_count'), 8)]) },
    { name: 'expert-used-without-experts', expect: 'llama.expert_used_count is 2, more than llama.expert_count 0', make: c.rebuild({}, [uint(c.hp('expert_used_count'), 2)]) },
    { name: 'experts-none-used', expect: 'llama.expert_count is 4 but llama.expert_used_count is 0, must be 1 to 4', make: c.rebuild({}, [uint(c.hp('expert_count'), 4)]) },
    { name: 'feed-forward-length-missing', expect: 'llama.feed_forward_length is missing, but the model has tensor blk.0.ffn_gate.weight', make: c.rebuild({ [c.hp('feed_forward_length')]: null }) },
    { name: 'head-count-missing', expect: 'llama.attention.head_count is missing, but the model has tensor blk.0.attn_q.weight', make: c.rebuild({ [c.hp('attention.head_count')]: null }) },
    { name: 'key-length-zero', expect: 'llama.attention.key_length is 0, must be at least 1', make: c.setU32(c.hp('attention.key_length'), 0) },
    { name: 'value-length-zero', expect: 'llama.attention.value_length is 0, must be at least 1', make: c.setU32(c.hp('attention.value_length'), 0) },
    { name: 'embedding-length-absurd', expect: 'llama.cpp refused it', make: c.setU32(c.hp('embedding_length'), 0xffff_ffff) },
  ];
}

/** Known keys of the wrong type or size: llama.cpp reads them with type assertions. */
function metadataTypeCases(c: Crafter): CorruptModel[] {
  return [
    { name: 'head-count-not-integer', expect: 'llama.attention.head_count is a string, must be an integer', make: c.rebuild({ [c.hp('attention.head_count')]: [STRING, str('4')] }) },
    { name: 'architecture-not-string', expect: 'general.architecture is a uint32, must be a string', make: c.rebuild({ 'general.architecture': [U32, u32(7)] }) },
    { name: 'no-tokens', expect: 'tokenizer.ggml.tokens has 0 tokens', make: c.rebuild({ 'tokenizer.ggml.tokens': [ARRAY, Buffer.concat([u32(STRING), u64(0)])] }) },
    {
      name: 'tokens-not-strings',
      expect: 'tokenizer.ggml.tokens is an array of uint32, must be an array of string',
      make: c.rebuild({ 'tokenizer.ggml.tokens': [ARRAY, Buffer.concat([u32(U32), u64(512), Buffer.alloc(512 * 4)])] }),
    },
    {
      name: 'scores-short',
      expect: 'tokenizer.ggml.scores has 16 entries but tokenizer.ggml.tokens has 512',
      make: c.rebuild({ 'tokenizer.ggml.scores': [ARRAY, Buffer.concat([u32(F32), u64(16), Buffer.alloc(16 * 4)])] }),
    },
    { name: 'alignment-not-power-of-two', expect: 'general.alignment is uint32 3, must be a uint32 power of two', make: c.rebuild({}, [entry('general.alignment', U32, u32(3))]) },
    { name: 'duplicate-key', expect: 'metadata key general.name appears twice', make: c.rebuild({}, [entry('general.name', STRING, str('again'))]) },
  ];
}

/** Tensor infos: offsets, types, dimensions and names that do not fit. */
function tensorCases(c: Crafter): CorruptModel[] {
  const embd = c.tensor('token_embd.weight');
  const q = c.tensor('blk.0.attn_q.weight');
  const last = c.header.tensors.at(-1)!;
  return [
    { name: 'tensor-offset-past-end', expect: `tensor ${last.name} data ends at byte`, make: c.patched([c.fields(last).dataOffset, u64(1n << 40n)]) },
    { name: 'tensor-offset-misaligned', expect: `tensor ${last.name} data offset ${last.dataOffset + 4n} is not a multiple of the alignment 32`, make: c.patched([c.fields(last).dataOffset, u64(last.dataOffset + 4n)]) },
    { name: 'tensor-type-unknown', expect: `tensor ${q.name} has unknown ggml type 99`, make: c.patched([c.fields(q).type, u32(99)]) },
    { name: 'tensor-type-removed', expect: `tensor ${q.name} has unknown ggml type 4`, make: c.patched([c.fields(q).type, u32(4)]) },
    { name: 'tensor-row-not-block', expect: `tensor ${embd.name} has rows of 64 elements, not a multiple of its type's block size 256`, make: c.patched([c.fields(embd).type, u32(12)]) },
    { name: 'tensor-dims-zero', expect: `tensor ${q.name} has 0 dimensions, must be 1 to 4`, make: c.patched([c.fields(q).nDims, u32(0)]) },
    { name: 'tensor-dims-five', expect: `tensor ${q.name} has 5 dimensions, must be 1 to 4`, make: c.patched([c.fields(q).nDims, u32(5)]) },
    { name: 'tensor-dim-zero', expect: `tensor ${q.name} has shape [64, 0]: every dimension must be at least 1`, make: c.patched([c.fields(q).dims + 8, u64(0)]) },
    { name: 'tensor-dim-huge', expect: `tensor ${q.name} has shape [64, 4611686018427387904], more than 2^63 elements`, make: c.patched([c.fields(q).dims + 8, u64(1n << 62n)]) },
    { name: 'tensor-name-too-long', expect: "tensor info 0's name is 64 bytes or longer", make: c.patched([embd.offset, u64(100)]) },
  ];
}

/**
 * The source file with metadata entries replaced (`[type, value]`), removed
 * (`null`) or added (`extra`, whole entries), and the header re-laid: the tensor infos and data are
 * copied as they are, the data re-aligned after the new header (tensor offsets are relative to it).
 */
function rebuilt(source: Buffer, header: GgufHeader, edits: Record<string, Edit | null>, extra: Buffer[]): Buffer {
  const kvs = [...header.kvs.values()].sort((a, b) => a.offset - b.offset);
  const infosStart = header.tensors[0]?.offset ?? header.headerEnd;
  const entries: Buffer[] = kvs.flatMap((kv, i) => {
    const edit = edits[kv.key];
    if (edit === null) return [];
    if (edit !== undefined) return [entry(kv.key, edit[0], edit[1])];
    return [source.subarray(kv.offset, kvs[i + 1]?.offset ?? infosStart)];
  });
  entries.push(...extra);
  const infos = source.subarray(infosStart, header.headerEnd);
  const top = Buffer.concat([Buffer.from('GGUF'), u32(header.version), u64(header.tensors.length), u64(entries.length), ...entries, infos]);
  const data = source.subarray(alignUp(header.headerEnd, header.alignment));
  // Alignment of the rebuilt file: a new general.alignment only matters if it is valid, and it is not here.
  const padding = Buffer.alloc(alignUp(top.length, header.alignment) - top.length);
  return Buffer.concat([top, padding, data]);
}
