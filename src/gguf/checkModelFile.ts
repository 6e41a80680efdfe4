import { type FileHandle, open } from 'node:fs/promises';
import { AbortedError } from '../messaging/errors.js';
import { InvalidModelFileError, ModelFileNotFoundError } from './modelFileErrors.js';
import { type GgufHeader, type GgufHeaderKv, GgufFormatError, GgufType as T, ggufTypeName, readGgufHeader } from './readGgufHeader.js';

/** Options of {@link checkModelFile}. */
export interface CheckModelFileOptions {
  /** Stops the check between reads: it rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/**
 * `[type size, block size]` of every ggml type, by id, as the bundled llama.cpp reports them
 * (`test/model/ggufCorpus.test.ts` compares the table with the binary). `[0, 0]` is a type ggml
 * removed; ids past the end are unknown. llama.cpp refuses both, but only a JS check can say so
 * before anything reads the data.
 */
const GGML_TYPE_TRAITS: ReadonlyArray<readonly [number, number]> = [
  [4, 1], [2, 1], [18, 32], [20, 32], [0, 0], [0, 0], [22, 32], [24, 32], [34, 32], [36, 32], // F32 … Q8_1
  [84, 256], [110, 256], [144, 256], [176, 256], [210, 256], [292, 256], // Q2_K … Q8_K
  [66, 256], [74, 256], [98, 256], [50, 256], [18, 32], [110, 256], [82, 256], [136, 256], // IQ2_XXS … IQ4_XS
  [1, 1], [2, 1], [4, 1], [8, 1], [8, 1], [56, 256], [2, 1], // I8, I16, I32, I64, F64, IQ1_M, BF16
  [0, 0], [0, 0], [0, 0], [54, 256], [66, 256], [0, 0], [0, 0], [0, 0], // Q4_0_4_4 … IQ4_NL_8_8
  [17, 32], [36, 64], [18, 128], [18, 64], // MXFP4, NVFP4, Q1_0, Q2_0
];

/** @internal `[type size, block size]` of a ggml type id; undefined for an unknown or removed one. */
export function ggmlTypeTraits(type: number): readonly [number, number] | undefined {
  const traits = GGML_TYPE_TRAITS[type];
  return traits && traits[0] > 0 ? traits : undefined;
}

/**
 * The bundled llama.cpp's LLAMA_MAX_LAYERS and LLAMA_MAX_EXPERTS: more aborts the process
 * (GGML_ASSERT in `load_hparams`) instead of failing the load. The corpus test holds files one past
 * each limit, so a llama.cpp that moves them shows up there.
 */
const MAX_LAYERS = 512;
const MAX_EXPERTS = 1024;
const INT64_MAX = (1n << 63n) - 1n;
const INTEGER_TYPES: ReadonlySet<number> = new Set([T.U8, T.I8, T.U16, T.I16, T.U32, T.I32, T.U64, T.I64]);
/** Tensors whose shapes llama.cpp derives from the head counts, and from the feed-forward length. */
const ATTENTION_TENSOR = /^blk\.\d+\.attn_(q|k|v|qkv|output)\.weight$/;
const DENSE_FFN_TENSOR = /^blk\.\d+\.ffn_(up|gate|down)\.weight$/;

/**
 * Checks a model file before llama.cpp sees it, since llama.cpp answers some malformed files with
 * an assertion that aborts the whole process (a head count of 0, a block count over its limit).
 * It parses the GGUF header in JS, in chunks and never the tensor data, with every count and
 * length checked against the file size; then checks the hyperparameters llama.cpp sizes tensors
 * with, and every tensor's type, shape, alignment and extent. Rejects with `MODEL_FILE_NOT_FOUND`,
 * or `INVALID_MODEL_FILE` naming the key or tensor and the numbers; messages never quote the
 * file's bytes (the path may be a link to anything).
 *
 * @example
 * ```ts
 * await checkModelFile('models/tiny.gguf'); // resolves, or throws a typed error
 * ```
 */
export async function checkModelFile(path: string, options: CheckModelFileOptions = {}): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelFileNotFoundError(path);
    throw new InvalidModelFileError(path, (error as Error).message);
  }
  try {
    const stats = await handle.stat();
    // A pipe or a device cannot be read at offsets, and has no size to check lengths against.
    if (!stats.isFile()) throw new InvalidModelFileError(path, 'it is not a regular file');
    checkHeader(await readGgufHeader(handle, stats.size, options.signal));
  } catch (error) {
    if (error instanceof GgufFormatError) throw new InvalidModelFileError(path, error.message);
    if (error instanceof InvalidModelFileError || error instanceof AbortedError) throw error;
    throw new InvalidModelFileError(path, (error as Error).message);
  } finally {
    await handle.close();
  }
}

/** The semantic checks, on a header whose every length is known to lie inside the file. */
function checkHeader(header: GgufHeader): void {
  const architecture = header.kvs.get('general.architecture');
  if (architecture?.type !== T.STRING || typeof architecture.value !== 'string') {
    fail(architecture ? `general.architecture is ${describeType(architecture)}, must be a string` : 'general.architecture is missing');
  }
  checkHyperparameters(header, architecture.value);
  checkVocabulary(header.kvs);
  checkTensors(header);
}

function checkTensors({ tensors, alignment, fileSize, headerEnd }: GgufHeader): void {
  const dataStart = BigInt(Math.ceil(headerEnd / alignment) * alignment);
  for (const tensor of tensors) {
    const what = `tensor ${tensor.name}`;
    const traits = ggmlTypeTraits(tensor.type);
    if (!traits) fail(`${what} has unknown ggml type ${tensor.type}`);
    const [typeSize, blockSize] = traits;
    const shape = `[${tensor.dims.join(', ')}]`;
    if (tensor.dims.some((d) => d < 1n)) fail(`${what} has shape ${shape}: every dimension must be at least 1`);
    const elements = tensor.dims.reduce((a, b) => a * b, 1n);
    if (elements > INT64_MAX) fail(`${what} has shape ${shape}, more than 2^63 elements`);
    if (tensor.dims[0]! % BigInt(blockSize) !== 0n) {
      fail(`${what} has rows of ${tensor.dims[0]} elements, not a multiple of its type's block size ${blockSize}`);
    }
    if (tensor.dataOffset % BigInt(alignment) !== 0n) fail(`${what} data offset ${tensor.dataOffset} is not a multiple of the alignment ${alignment}`);
    const end = dataStart + tensor.dataOffset + (elements / BigInt(blockSize)) * BigInt(typeSize);
    if (end > BigInt(fileSize)) fail(`${what} data ends at byte ${end} but the file has ${fileSize}`);
  }
}

/**
 * The hyperparameters llama.cpp sizes tensors with and divides by. The head rules apply when the
 * model has attention tensors (Mamba and RWKV write `head_count = 0` on purpose), the
 * feed-forward length is required when it has dense feed-forward tensors. Per-layer arrays
 * (OpenELM; hybrids with no KV heads on recurrent layers) are left to llama.cpp, which checks
 * their lengths itself; only scalars are checked here.
 */
function checkHyperparameters({ kvs, tensors }: GgufHeader, arch: string): void {
  const scalar = (name: string, required: boolean, min = 1, max = Infinity, why = ''): number | undefined => {
    const key = `${arch}.${name}`;
    const kv = kvs.get(key);
    if (!kv) return required ? fail(`${key} is missing${why}`) : undefined;
    if (kv.type === T.ARRAY && INTEGER_TYPES.has(kv.itemType ?? -1)) return undefined;
    if (!INTEGER_TYPES.has(kv.type)) fail(`${key} is ${describeType(kv)}, must be an integer`);
    const value = Number(kv.value);
    if (value < min) fail(`${key} is ${value}, must be at least ${min}`);
    if (value > max) fail(`${key} is ${value}, must be at most ${max} (llama.cpp's limit)`);
    return value;
  };
  const attention = tensors.find((t) => ATTENTION_TENSOR.test(t.name));
  const denseFfn = tensors.find((t) => DENSE_FFN_TENSOR.test(t.name));
  scalar('block_count', true, 1, MAX_LAYERS);
  const embedding = scalar('embedding_length', true);
  scalar('context_length', true);
  scalar('feed_forward_length', denseFfn !== undefined, 1, Infinity, denseFfn ? `, but the model has tensor ${denseFfn.name}` : '');
  const experts = scalar('expert_count', false, 0, MAX_EXPERTS) ?? 0;
  const used = scalar('expert_used_count', false, 0) ?? 0;
  if (used > experts) fail(`${arch}.expert_used_count is ${used}, more than ${arch}.expert_count ${experts}`);
  if (experts > 0 && used < 1) fail(`${arch}.expert_count is ${experts} but ${arch}.expert_used_count is ${used}, must be 1 to ${experts}`);
  if (!attention) return;
  const heads = scalar('attention.head_count', true, 1, Infinity, `, but the model has tensor ${attention.name}`);
  const kvHeads = scalar('attention.head_count_kv', false);
  scalar('attention.key_length', false);
  scalar('attention.value_length', false);
  // GLM-4.5 has 96 heads of 128 on a 4096 embedding: with an explicit head size the embedding need not divide.
  if (embedding !== undefined && heads !== undefined && !kvs.has(`${arch}.attention.key_length`) && embedding % heads !== 0) {
    fail(`${arch}.embedding_length ${embedding} is not a multiple of ${arch}.attention.head_count ${heads}`);
  }
  if (heads !== undefined && kvHeads !== undefined && heads % kvHeads !== 0) {
    fail(`${arch}.attention.head_count ${heads} is not a multiple of ${arch}.attention.head_count_kv ${kvHeads}`);
  }
}

/** llama.cpp reads the token arrays with type assertions and indexes scores and token types by token id. */
function checkVocabulary(kvs: ReadonlyMap<string, GgufHeaderKv>): void {
  const array = (kv: GgufHeaderKv, itemType: number): number => {
    if (kv.type !== T.ARRAY || kv.itemType !== itemType) fail(`${kv.key} is ${describeType(kv)}, must be an array of ${ggufTypeName(itemType)}`);
    return kv.count ?? 0;
  };
  const tokens = kvs.get('tokenizer.ggml.tokens');
  if (!tokens) return;
  const count = array(tokens, T.STRING);
  if (count < 1) fail('tokenizer.ggml.tokens has 0 tokens, must have at least 1');
  for (const [key, itemType] of [['tokenizer.ggml.scores', T.F32], ['tokenizer.ggml.token_type', T.I32]] as const) {
    const kv = kvs.get(key);
    if (kv && array(kv, itemType) !== count) fail(`${key} has ${kv.count} entries but tokenizer.ggml.tokens has ${count}`);
  }
  const merges = kvs.get('tokenizer.ggml.merges');
  if (merges) array(merges, T.STRING);
}

function describeType(kv: GgufHeaderKv): string {
  return kv.type === T.ARRAY ? `an array of ${ggufTypeName(kv.itemType)}` : `a ${ggufTypeName(kv.type)}`;
}

function fail(reason: string): never {
  throw new GgufFormatError(reason);
}
