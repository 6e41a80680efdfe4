/**
 * Probe: llama.cpp's C API through koffi on node-llama-cpp's prebuilt binaries, to see which of the
 * gaps to llama.cpp's tools are the binary and which are how it is driven.
 *
 * It measures, with nothing of the runtime in between: prefill of `--prefill` tokens, one stream's
 * greedy decode, and `--seqs` sequences decoded together (one token each per `llama_decode`).
 *
 *   npx tsx bench/nativeProbe.ts [--model PATH] [--threads 2] [--variant zen4|icelake|haswell|cpu]
 *     [--pool 1|0] [--async 0|1] [--unified 1|0] [--poll N] [--seqs 8] [--steps 48] [--prefill 1000] [--nlc 1]
 *
 * `--variant cpu` with `LLAMA_ACTORS_LLAMA_BINS=<local build's bin dir>` measures a local build;
 * `--nlc 1` loads the model in node-llama-cpp first (both in one process, sharing its libraries).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as koffi from 'koffi';
import { ensureBenchModel } from '../scripts/make-models.js';
import { LlamaBatch, type LlamaBatchValue, loadLlamaNative } from '../src/actors/TunerActor/training/llamaNative.js';
import { ThreadpoolParams } from '../src/actors/ModelActor/native/nativeLlama.js';
import { flag } from './args.js';

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
const THREADS = flag('threads', 2);
const USE_POOL = argument('pool') !== '0';
const SEQS = flag('seqs', 8);
const STEPS = flag('steps', 48);
const PREFILL = flag('prefill', 1000);
const variant = argument('variant') ?? 'zen4';
const modelFile = argument('model') ?? (await ensureBenchModel());

let nlcModel: unknown;
if (argument('nlc') === '1') {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const l = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, cmakeOptions: { LLAMA_ACTORS_BENCH_PREBUILT: '1' } });
  nlcModel = await l.loadModel({ modelPath: modelFile });
  const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.includes('libllama')).map((line) => line.split(' ').at(-1));
  console.log('node-llama-cpp', l.buildType, [...new Set(maps)]);
}
const native = loadLlamaNative();
const dir = native.binsDir;
const base = koffi.load(native.libraries.ggmlBase);
const ggml = koffi.load(native.libraries.ggml);
const llama = koffi.load(native.libraries.llama);
const backendLoad = ggml.func('void *ggml_backend_load(const char *path)');
const regCount = ggml.func('size_t ggml_backend_reg_count()');
const preRegistered = Number(regCount());
console.log('registered before', preRegistered);
if (preRegistered === 0) native.fn.llama_backend_init();
const variantFile = readdirSync(dir).find((name) => name === (variant === "cpu" ? "libggml-cpu.so" : `libggml-cpu-${variant}.so`));
if (!variantFile) throw new Error(`no variant ${variant}`);
if (preRegistered === 0) backendLoad(join(dir, variantFile));
console.log(`backends registered: ${regCount()} (${variantFile})`);

const cpu = koffi.load(join(dir, variantFile));
void ThreadpoolParams; // registers the ggml_threadpool_params type the declarations use
const paramsDefault = base.func('ggml_threadpool_params ggml_threadpool_params_default(int n)');
const threadpoolNew = cpu.func('void *ggml_threadpool_new(ggml_threadpool_params *p)');
const attach = llama.func('void llama_attach_threadpool(void *ctx, void *tp, void *tpb)');
const batchInit = llama.func('llama_batch llama_batch_init(int32_t n, int32_t embd, int32_t nseq)');
const getMemory = llama.func('void *llama_get_memory(void *ctx)');
const memoryClear = llama.func('void llama_memory_clear(void *mem, bool data)');
const greedyInit = llama.func('void *llama_sampler_init_greedy()');
const sample = llama.func('int32_t llama_sampler_sample(void *smpl, void *ctx, int32_t idx)');
void LlamaBatch; // registers the llama_batch type the declarations use

const model = native.fn.llama_model_load_from_file(modelFile, native.fn.llama_model_default_params());
if (!model) throw new Error('model did not load');
const params = native.fn.llama_context_default_params();
params.n_ctx = 8192;
params.n_batch = 1024;
params.n_ubatch = 512;
params.n_seq_max = SEQS;
params.n_threads = THREADS;
params.n_threads_batch = THREADS;
params.flash_attn_type = 0;
params.kv_unified = argument('unified') !== '0';
const ctx = native.fn.llama_init_from_model(model, params) as bigint;
if (USE_POOL) {
  const tpParams = paramsDefault(THREADS);
  if (argument('poll')) tpParams.poll = Number(argument('poll'));
  const pool = threadpoolNew(tpParams);
  attach(ctx, pool, pool);
}
const memory = getMemory(ctx);

const CAPACITY = 1024;
const batch = batchInit(CAPACITY, 0, SEQS) as LlamaBatchValue;
const tokens = new Int32Array(koffi.view(batch.token as bigint, CAPACITY * 4));
const positions = new Int32Array(koffi.view(batch.pos as bigint, CAPACITY * 4));
const seqCounts = new Int32Array(koffi.view(batch.n_seq_id as bigint, CAPACITY * 4));
const logits = new Int8Array(koffi.view(batch.logits as bigint, CAPACITY));
const seqPointers = new BigUint64Array(koffi.view(batch.seq_id as bigint, CAPACITY * 8));
const seqIds = Array.from({ length: CAPACITY }, (_, i) => new Int32Array(koffi.view(seqPointers[i] as bigint, SEQS * 4)));

const ASYNC = argument('async') === '1';
const decodeAsync = (await import('node:util')).promisify(native.fn.llama_decode.async) as unknown as (c: bigint, b: unknown) => Promise<number>;
async function decode(n: number): Promise<void> {
  const rc = ASYNC ? await decodeAsync(ctx, { ...batch, n_tokens: n }) : native.fn.llama_decode(ctx, { ...batch, n_tokens: n });
  if (rc !== 0) throw new Error(`llama_decode ${rc}`);
}
function put(i: number, token: number, pos: number, seq: number, wantLogits: boolean): void {
  tokens[i] = token;
  positions[i] = pos;
  seqCounts[i] = 1;
  (seqIds[i] as Int32Array)[0] = seq;
  logits[i] = wantLogits ? 1 : 0;
}

const sampler = greedyInit();
// Prefill.
memoryClear(memory, true);
let start = performance.now();
for (let done = 0; done < PREFILL; done += CAPACITY) {
  const n = Math.min(CAPACITY, PREFILL - done);
  for (let i = 0; i < n; i++) put(i, 100 + ((done + i) * 7) % 30000, done + i, 0, done + i === PREFILL - 1);
  await decode(n);
}
const prefill = (PREFILL * 1000) / (performance.now() - start);
// One stream decode.
memoryClear(memory, true);
put(0, 1, 0, 0, true);
await decode(1);
start = performance.now();
let token = sample(sampler, ctx, 0);
for (let step = 1; step <= STEPS; step++) {
  put(0, token, step, 0, true);
  await decode(1);
  token = sample(sampler, ctx, 0);
}
const one = (STEPS * 1000) / (performance.now() - start);
// SEQS sequences, one token each per step.
memoryClear(memory, true);
for (let s = 0; s < SEQS; s++) put(s, 1 + s, 0, s, true);
await decode(SEQS);
const last = Array.from({ length: SEQS }, (_, s) => sample(sampler, ctx, s));
start = performance.now();
for (let step = 1; step <= STEPS; step++) {
  for (let s = 0; s < SEQS; s++) put(s, last[s] as number, step, s, true);
  await decode(SEQS);
  for (let s = 0; s < SEQS; s++) last[s] = sample(sampler, ctx, s);
}
const many = (STEPS * SEQS * 1000) / (performance.now() - start);
console.log(JSON.stringify({ variant, threads: THREADS, pool: USE_POOL, prefill: +prefill.toFixed(1), one: +one.toFixed(1), [`seqs${SEQS}`]: +many.toFixed(1) }));
