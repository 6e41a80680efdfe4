/**
 * GGUF files that crash the process for real: llama.cpp aborts (SIGABRT, from a GGML_ASSERT, a
 * GGML_ABORT or a C++ exception nobody catches) or faults (SIGSEGV) instead of failing with an
 * error. They exist to prove that a model running in its own supervised child process costs that
 * model, not the server (test/model/crashModels.test.ts forks a child per file and watches it die).
 *
 * Each is the tiny model (`ensureTinyModel()`) with a few bytes overwritten in place, so the file
 * keeps its size and layout, passes `checkModelFile` (every header length, hyperparameter, tensor
 * type, shape, alignment and extent is still fine) and fails only inside llama.cpp. They are
 * written next to the other generated models (`models/crash-*.gguf`) and cached the same way
 * (a `.json` sidecar recording this generator's version and the tiny model's key).
 *
 * What each one hits, in the llama.cpp bundled with node-llama-cpp 3.22 (`git clone
 * node_modules/node-llama-cpp/llama/gitRelease.bundle`; lines of that tree), loaded as
 * `src/actors/ModelActor/loadModel.ts` loads a model (either engine) and then used:
 *
 * | file                       | damage                                   | step      | how it dies |
 * |----------------------------|------------------------------------------|-----------|-------------|
 * | crash-duplicate-token      | two tokens with the same text            | load      | SIGABRT, GGML_ASSERT src/llama-vocab.cpp:2539 |
 * | crash-i32-token-embd       | `token_embd.weight` typed I32            | load (first context) | SIGABRT, GGML_ASSERT ggml/src/ggml-backend.cpp:1294 |
 * | crash-missing-byte-token   | byte token `<0xF0>` misspelt `<0xf0>`    | tokenize  | SIGABRT, std::out_of_range → std::terminate |
 * | crash-i32-norm             | `blk.0.attn_norm.weight` typed I32       | first decode | SIGABRT, GGML_ABORT ggml/src/ggml-cpu/binary-ops.cpp:135 |
 * | crash-i32-matmul           | `blk.0.attn_q.weight` typed I32          | first decode | SIGSEGV, call through a NULL vec_dot, ggml/src/ggml-cpu/ggml-cpu.c:1244 |
 *
 * The details are on {@link CRASH_MODELS}. Both engines (`native`, `node-llama-cpp`) die the same
 * way: the load and the tokenizer are node-llama-cpp's in both, and the decode is the same ggml.
 *
 * Damage tried that llama.cpp (or `checkModelFile` before it) refuses with an error, or survives:
 * truncated data and offsets past the end (checkModelFile); two tensors at one offset (gguf.cpp:
 * "failed to load model"); a tensor missing or one too many; 513 tokens for 512-row embeddings,
 * i.e. n_vocab bigger than the output tensor, and a KV head count or key length that does not fit
 * the tensors (check_tensor_dims: "wrong shape"); a rope dimension count other than the head size
 * ("invalid n_rot"); a BYTE-typed token of two characters (std::out_of_range while load builds the
 * piece cache, caught: "error loading model vocabulary"). Loaded and generated without a crash:
 * token types out of range, BOS/EOS ids out of range (a warning), a gpt2 tokenizer with merges of
 * unknown pieces, all-NaN weights, F16 / BF16 / Q4_0 matrices.
 *
 * As a CLI: `npx tsx scripts/crashModels.ts` writes them all.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GgufHeader, type GgufHeaderTensor, readGgufHeader } from '../src/gguf/readGgufHeader.js';
import { ensureTinyModel, GENERATOR_VERSION, MODELS_DIR } from './make-models.js';
import { Corpus } from './models/Corpus.js';
import { ensureBuilt } from './models/ensureBuilt.js';
import { TINY_MODEL_PARAMS } from './models/tinyModel.js';

/** Bump whenever a change here changes the files written, so cached ones are rebuilt. */
export const CRASH_MODELS_VERSION = 1;

/** ggml's type id for 32-bit integers (`GGML_TYPE_I32`): 4 bytes an element, as F32, so the data fits unchanged. */
const GGML_TYPE_I32 = 26;

/** Where in the repository's loading path a crash happens. */
export type CrashStep = 'load' | 'tokenize' | 'generate';

/** One crashing file: how it is damaged, and what kills the process where. */
export interface CrashModel {
  /** The file is `models/crash-<name>.gguf`. */
  readonly name: CrashModelName;
  /** What is wrong with it. */
  readonly damage: string;
  /** The step it dies in: the load (file check, node-llama-cpp's load, the first context), tokenizing {@link CRASH_PROMPT}, or generating from it. */
  readonly step: CrashStep;
  /** The signal the process dies by. */
  readonly signal: 'SIGABRT' | 'SIGSEGV';
  /** The llama.cpp check or fault it hits, file:line in the bundled tree. */
  readonly fault: string;
  /** What the dying process writes to stderr (with `GGML_NO_BACKTRACE` set); undefined when it writes nothing (a segfault). */
  readonly stderr: RegExp | undefined;
}

/** The names of the crashing files. */
export type CrashModelName = 'duplicate-token' | 'i32-token-embd' | 'missing-byte-token' | 'i32-norm' | 'i32-matmul';

/**
 * A prompt to tokenize and generate from. Its llama (U+1F999) is four UTF-8 bytes no vocabulary
 * piece covers, so the SPM tokenizer falls back to byte tokens, the first of them `<0xF0>`; the
 * good tiny model has those, and generates from it.
 */
export const CRASH_PROMPT = 'the actor \u{1F999}';

/** The crashing files, in the order of the steps they die in. */
export const CRASH_MODELS: readonly CrashModel[] = [
  {
    name: 'duplicate-token',
    damage: 'tokenizer.ggml.tokens holds <0x00> twice: the byte token <0x01> is renamed <0x00> (same length, in place)',
    step: 'load',
    signal: 'SIGABRT',
    fault:
      'llama_vocab::impl::load fills token_to_id (a map from text) from the token list, so a repeated text leaves it one short of ' +
      'id_to_token; src/llama-vocab.cpp:2539 GGML_ASSERT(id_to_token.size() == token_to_id.size()) aborts inside ' +
      'llama_model_load_from_file, where node-llama-cpp loads the vocabulary',
    stderr: /llama-vocab\.cpp:\d+: GGML_ASSERT\(id_to_token\.size\(\) == token_to_id\.size\(\)\) failed/,
  },
  {
    name: 'i32-token-embd',
    damage: 'token_embd.weight has ggml type I32 (26) instead of F32 (same element size, data unchanged)',
    step: 'load',
    signal: 'SIGABRT',
    fault:
      'the model loads, but ggml_get_rows of an I32 tensor yields I32 (ggml/src/ggml.c:3965), so the first matmul (blk.0.attn_q, ' +
      'src1 I32) is refused by ggml_backend_cpu_device_supports_op (ggml/src/ggml-cpu/ggml-cpu.cpp:458); no backend takes the node and ' +
      'ggml_backend_sched_split_graph aborts at ggml/src/ggml-backend.cpp:1294 GGML_ASSERT(*cur_backend_id != -1) while the first ' +
      'context reserves its graph (llama_init_from_model, part of the ModelActor load)',
    stderr: /ggml-backend\.cpp:\d+: GGML_ASSERT\(\*cur_backend_id != -1\) failed/,
  },
  {
    name: 'missing-byte-token',
    damage: 'the byte token <0xF0> is spelt <0xf0> (lower-case hex, same length, in place)',
    step: 'tokenize',
    signal: 'SIGABRT',
    fault:
      'a character no piece covers is emitted as byte tokens looked up by name: llm_tokenizer_spm_session::resegment ' +
      '(src/llama-vocab.cpp:193) calls llama_vocab::byte_to_token, which finds no "<0xF0>" and falls back to ' +
      'token_to_id.at("\\xF0") (src/llama-vocab.cpp:4009), throwing std::out_of_range; node-llama-cpp\'s synchronous ' +
      'AddonModel::Tokenize (llama/addon/AddonModel.cpp:618) catches nothing, so std::terminate aborts. The load survives: its own ' +
      'newline lookup catches the exception, and nothing at load tokenizes a 0xF0 byte (misspell <0x0A> instead and node-llama-cpp\'s ' +
      'load, which tokenizes "\\n", dies the same way)',
    stderr: /terminate called after throwing an instance of 'std::out_of_range'/,
  },
  {
    name: 'i32-norm',
    damage: 'blk.0.attn_norm.weight has ggml type I32 (26) instead of F32 (same element size, data unchanged)',
    step: 'generate',
    signal: 'SIGABRT',
    fault:
      'the CPU backend claims every binary op (ggml_backend_cpu_device_supports_op: default true), so the load and the first context ' +
      'pass; the first decode multiplies the RMS-normed embedding by the I32 weight (llm_graph_context::build_norm, ' +
      'src/llama-graph.cpp:1605) and binary_op aborts: ggml/src/ggml-cpu/binary-ops.cpp:135 GGML_ABORT("unsupported types: dst: f32, ' +
      'src0: f32, src1: i32")',
    stderr: /binary-ops\.cpp:\d+: binary_op: unsupported types: dst: f32, src0: f32, src1: i32/,
  },
  {
    name: 'i32-matmul',
    damage: 'blk.0.attn_q.weight has ggml type I32 (26) instead of F32 (same element size, data unchanged)',
    step: 'generate',
    signal: 'SIGSEGV',
    fault:
      'MUL_MAT with an F32 src1 is "supported" for any src0 type (ggml/src/ggml-cpu/ggml-cpu.cpp:458), but the CPU type traits of I32 ' +
      '(ggml/src/ggml-cpu/ggml-cpu.c:413) define only from_float: the first decode calls its vec_dot, a NULL pointer, in ' +
      'ggml_compute_forward_mul_mat_one_chunk (ggml/src/ggml-cpu/ggml-cpu.c:1244) and jumps to address 0',
    stderr: undefined,
  },
];

/** Bytes to overwrite: `[offset, bytes]`. */
type Patch = readonly [offset: number, bytes: Buffer];

const PATCHES: Record<CrashModelName, (source: Buffer, header: GgufHeader) => Patch[]> = {
  'duplicate-token': (source, header) => [renameToken(source, header, '<0x01>', '<0x00>', 'taken')],
  'i32-token-embd': (_source, header) => [retype(header, 'token_embd.weight', GGML_TYPE_I32)],
  'missing-byte-token': (source, header) => [renameToken(source, header, '<0xF0>', '<0xf0>', 'free')],
  'i32-norm': (_source, header) => [retype(header, 'blk.0.attn_norm.weight', GGML_TYPE_I32)],
  'i32-matmul': (_source, header) => [retype(header, 'blk.0.attn_q.weight', GGML_TYPE_I32)],
};

/** Writes (if not cached) one crashing file and returns its path. */
export async function ensureCrashModel(name: CrashModelName): Promise<string> {
  const tiny = await ensureTinyModel();
  // The file is the tiny model's bytes: whatever changes the tiny model changes it.
  const params = { crash: name, tiny: { generator: GENERATOR_VERSION, ...TINY_MODEL_PARAMS, corpus: Corpus.load().hash } };
  return ensureBuilt(join(MODELS_DIR, `crash-${name}.gguf`), CRASH_MODELS_VERSION, params, (path) => writeCrashModel(tiny, name, path));
}

/** Writes (if not cached) every crashing file; returns their paths by name. */
export async function ensureCrashModels(): Promise<Record<CrashModelName, string>> {
  const paths = await Promise.all(CRASH_MODELS.map(async (model) => [model.name, await ensureCrashModel(model.name)] as const));
  return Object.fromEntries(paths) as Record<CrashModelName, string>;
}

/** Two tokens with one text: aborts at load (src/llama-vocab.cpp:2539). See {@link CRASH_MODELS}. */
export const ensureAbortOnLoadModel = (): Promise<string> => ensureCrashModel('duplicate-token');
/** An I32 token embedding: aborts creating the first context (ggml/src/ggml-backend.cpp:1294). */
export const ensureAbortOnContextModel = (): Promise<string> => ensureCrashModel('i32-token-embd');
/** A misspelt byte token: aborts tokenizing {@link CRASH_PROMPT} (uncaught std::out_of_range). */
export const ensureAbortOnTokenizeModel = (): Promise<string> => ensureCrashModel('missing-byte-token');
/** An I32 norm weight: aborts at the first decode (ggml/src/ggml-cpu/binary-ops.cpp:135). */
export const ensureAbortOnDecodeModel = (): Promise<string> => ensureCrashModel('i32-norm');
/** An I32 projection matrix: segfaults at the first decode (NULL vec_dot, ggml/src/ggml-cpu/ggml-cpu.c:1244). */
export const ensureSegfaultOnDecodeModel = (): Promise<string> => ensureCrashModel('i32-matmul');

/** The tiny model at `source` with the named damage, written atomically to `path`. */
async function writeCrashModel(source: string, name: CrashModelName, path: string): Promise<void> {
  const bytes = await readFile(source);
  const handle = await open(source, 'r');
  let header: GgufHeader;
  try {
    header = await readGgufHeader(handle, bytes.length);
  } finally {
    await handle.close();
  }
  for (const [offset, patch] of PATCHES[name](bytes, header)) patch.copy(bytes, offset);
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Overwrites the text of token `from` with `to`, which must have the same byte length and be
 * another token's text (`taken`) or no token's (`free`).
 */
function renameToken(source: Buffer, header: GgufHeader, from: string, to: string, target: 'taken' | 'free'): Patch {
  if (Buffer.byteLength(from) !== Buffer.byteLength(to)) throw new Error(`${from} and ${to} differ in length`);
  const tokens = header.kvs.get('tokenizer.ggml.tokens');
  if (!tokens) throw new Error('the source model has no tokenizer.ggml.tokens');
  const next = [...header.kvs.values()].map((kv) => kv.offset).filter((offset) => offset > tokens.offset);
  const end = Math.min(...next, header.tensors[0]?.offset ?? header.headerEnd);
  // A token is stored as its u64 length and its bytes.
  const encoded = Buffer.concat([u64(Buffer.byteLength(from)), Buffer.from(from)]);
  const list = source.subarray(tokens.valueOffset, end);
  const at = list.indexOf(encoded);
  if (at < 0 || list.indexOf(encoded, at + 1) >= 0) throw new Error(`token ${from} is not in the source model's tokens exactly once`);
  // Whether the new text is another token's is what the damage is about: check it is as intended.
  if (list.includes(Buffer.concat([u64(Buffer.byteLength(to)), Buffer.from(to)])) !== (target === 'taken')) {
    throw new Error(`token ${to} is ${target === 'taken' ? 'not' : 'already'} in the source model's tokens`);
  }
  return [tokens.valueOffset + at + 8, Buffer.from(to)];
}

/** Overwrites the ggml type of tensor `name`. */
function retype(header: GgufHeader, name: string, type: number): Patch {
  const tensor: GgufHeaderTensor | undefined = header.tensors.find((t) => t.name === name);
  if (!tensor) throw new Error(`the source model has no tensor ${name}`);
  // A tensor info: u64 name length, name, u32 dimension count, u64 per dimension, u32 type, u64 offset.
  const typeAt = tensor.offset + 8 + Buffer.byteLength(tensor.name) + 4 + 8 * tensor.dims.length;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(type);
  return [typeAt, bytes];
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  ensureCrashModels().then(
    (paths) => {
      for (const model of CRASH_MODELS) console.log(`${model.name.padEnd(20)} ${paths[model.name]}: ${model.step}, ${model.signal}`);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
