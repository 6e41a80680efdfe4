/**
 * koffi bindings to the inference half of llama.cpp's C API (batches, decode, KV memory, samplers,
 * thread pools), bound on the very libraries node-llama-cpp has loaded in this process, so both
 * share one backend registry and one copy of the code.
 *
 * Struct layouts come from `TunerActor/training/llamaNative.ts`, whose test checks them against the
 * header of the bundled build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as koffi from 'koffi';
import {
  LlamaBatch,
  type LlamaBatchValue,
  type LlamaContextParamsValue,
  type LlamaModelParamsValue,
  type LlamaNative,
  loadLlamaNative,
  type NativeFunction,
  type NativePointer,
} from '../../TunerActor/training/llamaNative.js';

void LlamaBatch; // registers the `llama_batch` type name the declarations below use

/** `struct ggml_threadpool_params` (ggml.h): `cpumask` is `bool[GGML_MAX_N_THREADS]`, 512. */
export const ThreadpoolParams = koffi.struct('ggml_threadpool_params', {
  cpumask: koffi.array('bool', 512),
  n_threads: 'int',
  prio: 'int',
  poll: 'uint32_t',
  strict_cpu: 'bool',
  paused: 'bool',
});

/** `struct llama_sampler_chain_params` (llama.h). */
const SamplerChainParams = koffi.struct('llama_sampler_chain_params', { no_perf: 'bool' });
void SamplerChainParams;

const ThreadpoolNew = koffi.proto('void *ggml_threadpool_new_fn(ggml_threadpool_params *params)');
const ThreadpoolFree = koffi.proto('void ggml_threadpool_free_fn(void *threadpool)');

/** The inference functions, named as in C. */
export interface NativeInferenceFunctions {
  llama_model_default_params: NativeFunction<[], LlamaModelParamsValue>;
  llama_model_load_from_file: NativeFunction<[path: string, params: LlamaModelParamsValue], NativePointer>;
  llama_model_free: NativeFunction<[model: bigint], void>;
  llama_model_get_vocab: NativeFunction<[model: bigint], NativePointer>;
  llama_vocab_n_tokens: NativeFunction<[vocab: bigint], number>;
  llama_vocab_is_eog: NativeFunction<[vocab: bigint, token: number], boolean>;
  llama_context_default_params: NativeFunction<[], LlamaContextParamsValue>;
  llama_init_from_model: NativeFunction<[model: bigint, params: LlamaContextParamsValue], NativePointer>;
  llama_free: NativeFunction<[context: bigint], void>;
  llama_n_ctx: NativeFunction<[context: bigint], number>;
  llama_n_batch: NativeFunction<[context: bigint], number>;
  llama_attach_threadpool: NativeFunction<[context: bigint, pool: bigint, batchPool: bigint], void>;
  llama_batch_init: NativeFunction<[tokens: number, embd: number, seqMax: number], LlamaBatchValue>;
  llama_batch_free: NativeFunction<[batch: LlamaBatchValue], void>;
  llama_decode: NativeFunction<[context: bigint, batch: LlamaBatchValue], number>;
  llama_get_memory: NativeFunction<[context: bigint], NativePointer>;
  llama_memory_clear: NativeFunction<[memory: bigint, data: boolean], void>;
  llama_memory_seq_rm: NativeFunction<[memory: bigint, seq: number, p0: number, p1: number], boolean>;
  llama_get_logits_ith: NativeFunction<[context: bigint, index: number], NativePointer>;
  llama_sampler_chain_init: NativeFunction<[params: { no_perf: boolean }], NativePointer>;
  llama_sampler_chain_add: NativeFunction<[chain: bigint, sampler: bigint], void>;
  llama_sampler_init_greedy: NativeFunction<[], NativePointer>;
  llama_sampler_init_dist: NativeFunction<[seed: number], NativePointer>;
  llama_sampler_init_top_k: NativeFunction<[k: number], NativePointer>;
  llama_sampler_init_top_p: NativeFunction<[p: number, minKeep: number], NativePointer>;
  llama_sampler_init_min_p: NativeFunction<[p: number, minKeep: number], NativePointer>;
  llama_sampler_init_temp: NativeFunction<[t: number], NativePointer>;
  llama_sampler_init_penalties: NativeFunction<[nVocab: number, lastN: number, repeat: number, frequency: number, presence: number], NativePointer>;
  llama_sampler_init_grammar: NativeFunction<[vocab: bigint, grammar: string, root: string], NativePointer>;
  /** `biases`: `count` packed `llama_logit_bias { int32 token; float bias; }` (8 bytes each), copied by llama.cpp. */
  llama_sampler_init_logit_bias: NativeFunction<[nVocab: number, count: number, biases: Uint8Array], NativePointer>;
  llama_sampler_sample: NativeFunction<[sampler: bigint, context: bigint, index: number], number>;
  llama_sampler_free: NativeFunction<[sampler: bigint], void>;
}

/** The libraries node-llama-cpp uses, with the inference API bound and a thread-pool factory. */
export interface NativeInference {
  readonly native: LlamaNative;
  readonly fn: NativeInferenceFunctions;
  /** A persistent ggml CPU thread pool of `threads` threads, or `undefined` if the backend has none. */
  newThreadpool(threads: number): { pool: bigint; free: () => void } | undefined;
}

let bound: NativeInference | undefined;

/**
 * The directory of the `libllama` this process has already mapped (node-llama-cpp's, prebuilt or
 * local build), so that koffi binds the same copy; `undefined` where `/proc/self/maps` is missing.
 */
export function loadedLlamaDir(): string | undefined {
  if (!existsSync('/proc/self/maps')) return undefined;
  const maps = readFileSync('/proc/self/maps', 'utf8');
  const line = maps.split('\n').find((entry) => /\/(lib)?llama(\.v[\d.]+)?\.so/.test(entry));
  const path = line?.slice(line.indexOf('/'));
  return path === undefined ? undefined : dirname(path.trim());
}

/**
 * Binds the inference API on the libllama node-llama-cpp loaded (call after `getLlama()`).
 *
 * @throws {NativeLibraryNotFoundError} when the libraries cannot be found or loaded.
 */
export function loadNativeInference(): NativeInference {
  if (bound) return bound;
  const dir = loadedLlamaDir();
  const native = loadLlamaNative(dir === undefined ? {} : { binsDir: dir });
  const ggml = koffi.load(native.libraries.ggml);
  const base = koffi.load(native.libraries.ggmlBase);
  const llama = koffi.load(native.libraries.llama);
  const regCount = ggml.func('size_t ggml_backend_reg_count()');
  const regByName = ggml.func('void *ggml_backend_reg_by_name(const char *name)');
  const procAddress = ggml.func('void *ggml_backend_reg_get_proc_address(void *reg, const char *name)');
  const paramsDefault = base.func('ggml_threadpool_params ggml_threadpool_params_default(int n_threads)');
  if (Number(regCount()) === 0) {
    // Nobody registered backends yet (no node-llama-cpp in this process): do what it would.
    native.fn.llama_backend_init();
    native.fn.ggml_backend_load_all_from_path(native.binsDir);
  }
  // koffi types a bound function as taking and returning anything; the interface gives each one
  // the TypeScript form of its C declaration, which callers are checked against.
  const fn: NativeInferenceFunctions = {
    llama_model_default_params: llama.func('llama_model_params llama_model_default_params()'),
    llama_model_load_from_file: llama.func('void *llama_model_load_from_file(const char *path, llama_model_params params)'),
    llama_model_free: llama.func('void llama_model_free(void *model)'),
    llama_model_get_vocab: llama.func('void *llama_model_get_vocab(void *model)'),
    llama_vocab_n_tokens: llama.func('int32_t llama_vocab_n_tokens(void *vocab)'),
    llama_vocab_is_eog: llama.func('bool llama_vocab_is_eog(void *vocab, int32_t token)'),
    llama_context_default_params: llama.func('llama_context_params llama_context_default_params()'),
    llama_init_from_model: llama.func('void *llama_init_from_model(void *model, llama_context_params params)'),
    llama_free: llama.func('void llama_free(void *ctx)'),
    llama_n_ctx: llama.func('uint32_t llama_n_ctx(void *ctx)'),
    llama_n_batch: llama.func('uint32_t llama_n_batch(void *ctx)'),
    llama_attach_threadpool: llama.func('void llama_attach_threadpool(void *ctx, void *pool, void *batch_pool)'),
    llama_batch_init: llama.func('llama_batch llama_batch_init(int32_t n_tokens, int32_t embd, int32_t n_seq_max)'),
    llama_batch_free: llama.func('void llama_batch_free(llama_batch batch)'),
    llama_decode: llama.func('int32_t llama_decode(void *ctx, llama_batch batch)'),
    llama_get_memory: llama.func('void *llama_get_memory(void *ctx)'),
    llama_memory_clear: llama.func('void llama_memory_clear(void *mem, bool data)'),
    llama_memory_seq_rm: llama.func('bool llama_memory_seq_rm(void *mem, int32_t seq_id, int32_t p0, int32_t p1)'),
    llama_get_logits_ith: llama.func('float *llama_get_logits_ith(void *ctx, int32_t i)'),
    llama_sampler_chain_init: llama.func('void *llama_sampler_chain_init(llama_sampler_chain_params params)'),
    llama_sampler_chain_add: llama.func('void llama_sampler_chain_add(void *chain, void *smpl)'),
    llama_sampler_init_greedy: llama.func('void *llama_sampler_init_greedy()'),
    llama_sampler_init_dist: llama.func('void *llama_sampler_init_dist(uint32_t seed)'),
    llama_sampler_init_top_k: llama.func('void *llama_sampler_init_top_k(int32_t k)'),
    llama_sampler_init_top_p: llama.func('void *llama_sampler_init_top_p(float p, size_t min_keep)'),
    llama_sampler_init_min_p: llama.func('void *llama_sampler_init_min_p(float p, size_t min_keep)'),
    llama_sampler_init_temp: llama.func('void *llama_sampler_init_temp(float t)'),
    llama_sampler_init_penalties: llama.func(
      'void *llama_sampler_init_penalties(int32_t n_vocab, int32_t penalty_last_n, float penalty_repeat, float penalty_freq, float penalty_present)',
    ),
    llama_sampler_init_grammar: llama.func('void *llama_sampler_init_grammar(void *vocab, const char *grammar_str, const char *grammar_root)'),
    llama_sampler_init_logit_bias: llama.func('void *llama_sampler_init_logit_bias(int32_t n_vocab, int32_t n_logit_bias, const void *logit_bias)'),
    llama_sampler_sample: llama.func('int32_t llama_sampler_sample(void *smpl, void *ctx, int32_t idx)'),
    llama_sampler_free: llama.func('void llama_sampler_free(void *smpl)'),
  };

  bound = {
    native,
    fn,
    newThreadpool(threads: number) {
      const reg = regByName('CPU') as NativePointer;
      if (!reg) return undefined;
      const create = procAddress(reg, 'ggml_threadpool_new') as NativePointer;
      const destroy = procAddress(reg, 'ggml_threadpool_free') as NativePointer;
      if (!create || !destroy) return undefined;
      const params = paramsDefault(threads);
      const pool = koffi.call(create, ThreadpoolNew, params) as NativePointer;
      if (!pool) return undefined;
      let freed = false;
      return {
        pool,
        free: () => {
          if (freed) return;
          freed = true;
          koffi.call(destroy, ThreadpoolFree, pool);
        },
      };
    },
  };
  return bound;
}
