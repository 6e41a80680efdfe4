/**
 * koffi bindings to the llama.cpp that node-llama-cpp ships prebuilt, for the parts node-llama-cpp
 * does not expose: training (`llama_opt_*`, `ggml_opt_*`) and saving a model.
 *
 * Only the declarations the trainer needs are bound. Struct layouts are copied field by field from
 * the `llama.h` / `ggml-opt.h` of the very build these binaries come from (node-llama-cpp 3.22.1,
 * llama.cpp release `v0.5.0`, bundled as the git bundle `node_modules/node-llama-cpp/llama/gitRelease.bundle`); a test
 * compares them with that header and with what the `*_default_params()` functions return, because
 * a layout that is off by one field does not fail loudly: it passes garbage to native code.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as koffi from 'koffi';
import { NativeLibraryNotFoundError } from './trainingErrors.js';

/** A native pointer as koffi 3 passes it: a BigInt address, or `null` for NULL. */
export type NativePointer = bigint | null;

/** A function bound by koffi, typed, with its `async` form (runs on a koffi worker thread). */
export type NativeFunction<Args extends unknown[], Result> = ((...args: Args) => Result) & {
  async: (...args: [...Args, (error: unknown, result: Result) => void]) => void;
};

// Enum values from llama.h / ggml.h / ggml-opt.h of the bundled build.
/** `enum llama_load_mode`. */
export const LlamaLoadMode = { Auto: -1, None: 0, Mmap: 1 } as const;
/** `enum llama_flash_attn_type`. */
export const LlamaFlashAttnType = { Auto: -1, Disabled: 0, Enabled: 1 } as const;
/** `enum ggml_type`, the values the trainer uses. */
export const GgmlTypeId = { F32: 0, F16: 1, I32: 26, BF16: 30 } as const;
/** `enum llama_ftype`, the values the trainer uses. */
export const LlamaFtype = { AllF32: 0, MostlyF16: 1 } as const;
/** `enum ggml_opt_optimizer_type`. */
export const GgmlOptOptimizer = { AdamW: 0, Sgd: 1 } as const;

/**
 * `struct llama_model_params` (llama.h). Enums are C `int`s; the booleans are kept together at the
 * end, as in the header.
 */
export const LlamaModelParams = koffi.struct('llama_model_params', {
  devices: 'void *',
  tensor_buft_overrides: 'void *',
  n_gpu_layers: 'int32_t',
  split_mode: 'int',
  load_mode: 'int',
  lazy_mode: 'int',
  main_gpu: 'int32_t',
  tensor_split: 'void *',
  progress_callback: 'void *',
  progress_callback_user_data: 'void *',
  kv_overrides: 'void *',
  vocab_only: 'bool',
  check_tensors: 'bool',
  use_extra_bufts: 'bool',
  no_host: 'bool',
  no_alloc: 'bool',
  load_mtp: 'bool',
});

/** `struct llama_context_params` (llama.h). */
export const LlamaContextParams = koffi.struct('llama_context_params', {
  n_ctx: 'uint32_t',
  n_batch: 'uint32_t',
  n_ubatch: 'uint32_t',
  n_seq_max: 'uint32_t',
  n_rs_seq: 'uint32_t',
  n_outputs_max: 'uint32_t',
  n_outputs_max_per_seq: 'uint32_t',
  n_threads: 'int32_t',
  n_threads_batch: 'int32_t',
  ctx_type: 'int',
  rope_scaling_type: 'int',
  pooling_type: 'int',
  attention_type: 'int',
  flash_attn_type: 'int',
  rope_freq_base: 'float',
  rope_freq_scale: 'float',
  yarn_ext_factor: 'float',
  yarn_attn_factor: 'float',
  yarn_beta_fast: 'float',
  yarn_beta_slow: 'float',
  yarn_orig_ctx: 'uint32_t',
  defrag_thold: 'float',
  cb_eval: 'void *',
  cb_eval_user_data: 'void *',
  type_k: 'int',
  type_v: 'int',
  abort_callback: 'void *',
  abort_callback_data: 'void *',
  embeddings: 'bool',
  offload_kqv: 'bool',
  no_perf: 'bool',
  op_offload: 'bool',
  swa_full: 'bool',
  kv_unified: 'bool',
  samplers: 'void *',
  n_samplers: 'size_t',
  ctx_other: 'void *',
});

/** `struct llama_opt_params` (llama.h). Callbacks are passed as raw function pointers. */
export const LlamaOptParams = koffi.struct('llama_opt_params', {
  n_ctx_train: 'uint32_t',
  param_filter: 'void *',
  param_filter_ud: 'void *',
  get_opt_pars: 'void *',
  get_opt_pars_ud: 'void *',
  optimizer_type: 'int',
});

/** `struct ggml_opt_optimizer_params` (ggml-opt.h): two anonymous structs, flattened here (same layout: 7 floats). */
export const GgmlOptOptimizerParams = koffi.struct('ggml_opt_optimizer_params', {
  adamw_alpha: 'float',
  adamw_beta1: 'float',
  adamw_beta2: 'float',
  adamw_eps: 'float',
  adamw_wd: 'float',
  sgd_alpha: 'float',
  sgd_wd: 'float',
});

/** `struct llama_model_quantize_params` (llama.h); used to convert F16 / BF16 models to F32. */
export const LlamaModelQuantizeParams = koffi.struct('llama_model_quantize_params', {
  nthread: 'int32_t',
  ftype: 'int',
  output_tensor_type: 'int',
  token_embedding_type: 'int',
  allow_requantize: 'bool',
  quantize_output_tensor: 'bool',
  only_copy: 'bool',
  pure: 'bool',
  keep_split: 'bool',
  dry_run: 'bool',
  imatrix: 'void *',
  kv_overrides: 'void *',
  tt_overrides: 'void *',
  prune_layers: 'void *',
  max_buf_size: 'size_t',
});

/** `struct llama_batch` (llama.h). */
export const LlamaBatch = koffi.struct('llama_batch', {
  n_tokens: 'int32_t',
  token: 'void *',
  embd: 'void *',
  pos: 'void *',
  n_seq_id: 'void *',
  seq_id: 'void *',
  logits: 'void *',
});

/** `llama_opt_param_filter`: called once per candidate tensor during `llama_opt_init`. */
export const LlamaOptParamFilter = koffi.proto('bool llama_opt_param_filter(void *tensor, void *userdata)');

/** `ggml_opt_epoch_callback`: called after every micro-batch of `llama_opt_epoch`. */
export const GgmlOptEpochCallback = koffi.proto(
  'void ggml_opt_epoch_callback(bool train, void *opt_ctx, void *dataset, void *result, int64_t ibatch, int64_t ibatch_max, int64_t t_start_us)',
);

/** Field values of {@link LlamaModelParams} as koffi decodes them. */
export interface LlamaModelParamsValue {
  devices: NativePointer;
  tensor_buft_overrides: NativePointer;
  n_gpu_layers: number;
  split_mode: number;
  load_mode: number;
  lazy_mode: number;
  main_gpu: number;
  tensor_split: NativePointer;
  progress_callback: NativePointer;
  progress_callback_user_data: NativePointer;
  kv_overrides: NativePointer;
  vocab_only: boolean;
  check_tensors: boolean;
  use_extra_bufts: boolean;
  no_host: boolean;
  no_alloc: boolean;
  load_mtp: boolean;
}

/** Field values of {@link LlamaContextParams} as koffi decodes them. */
export interface LlamaContextParamsValue {
  n_ctx: number;
  n_batch: number;
  n_ubatch: number;
  n_seq_max: number;
  n_rs_seq: number;
  n_outputs_max: number;
  n_outputs_max_per_seq: number;
  n_threads: number;
  n_threads_batch: number;
  ctx_type: number;
  rope_scaling_type: number;
  pooling_type: number;
  attention_type: number;
  flash_attn_type: number;
  rope_freq_base: number;
  rope_freq_scale: number;
  yarn_ext_factor: number;
  yarn_attn_factor: number;
  yarn_beta_fast: number;
  yarn_beta_slow: number;
  yarn_orig_ctx: number;
  defrag_thold: number;
  cb_eval: NativePointer;
  cb_eval_user_data: NativePointer;
  type_k: number;
  type_v: number;
  abort_callback: NativePointer;
  abort_callback_data: NativePointer;
  embeddings: boolean;
  offload_kqv: boolean;
  no_perf: boolean;
  op_offload: boolean;
  swa_full: boolean;
  kv_unified: boolean;
  samplers: NativePointer;
  n_samplers: number | bigint;
  ctx_other: NativePointer;
}

/** Field values of {@link LlamaOptParams}. */
export interface LlamaOptParamsValue {
  n_ctx_train: number;
  param_filter: NativePointer;
  param_filter_ud: NativePointer;
  get_opt_pars: NativePointer;
  get_opt_pars_ud: NativePointer;
  optimizer_type: number;
}

/** Field values of {@link GgmlOptOptimizerParams}. */
export interface GgmlOptOptimizerParamsValue {
  adamw_alpha: number;
  adamw_beta1: number;
  adamw_beta2: number;
  adamw_eps: number;
  adamw_wd: number;
  sgd_alpha: number;
  sgd_wd: number;
}

/** Field values of {@link LlamaModelQuantizeParams}. */
export interface LlamaModelQuantizeParamsValue {
  nthread: number;
  ftype: number;
  output_tensor_type: number;
  token_embedding_type: number;
  allow_requantize: boolean;
  quantize_output_tensor: boolean;
  only_copy: boolean;
  pure: boolean;
  keep_split: boolean;
  dry_run: boolean;
  imatrix: NativePointer;
  kv_overrides: NativePointer;
  tt_overrides: NativePointer;
  prune_layers: NativePointer;
  max_buf_size: number | bigint;
}

/** Field values of {@link LlamaBatch}. */
export interface LlamaBatchValue {
  n_tokens: number;
  token: NativePointer;
  embd: NativePointer;
  pos: NativePointer;
  n_seq_id: NativePointer;
  seq_id: NativePointer;
  logits: NativePointer;
}

/** The bound functions, named as in C. */
export interface LlamaNativeFunctions {
  ggml_backend_load_all_from_path: NativeFunction<[dir: string], void>;
  ggml_get_name: NativeFunction<[tensor: bigint], string>;
  ggml_get_data: NativeFunction<[tensor: bigint], NativePointer>;
  ggml_opt_dataset_init: NativeFunction<
    [typeData: number, typeLabel: number, neDatapoint: number, neLabel: number, ndata: number, ndataShard: number],
    NativePointer
  >;
  ggml_opt_dataset_free: NativeFunction<[dataset: bigint], void>;
  ggml_opt_dataset_ndata: NativeFunction<[dataset: bigint], number | bigint>;
  ggml_opt_dataset_data: NativeFunction<[dataset: bigint], NativePointer>;
  ggml_opt_dataset_labels: NativeFunction<[dataset: bigint], NativePointer>;
  ggml_opt_result_init: NativeFunction<[], NativePointer>;
  ggml_opt_result_free: NativeFunction<[result: bigint], void>;
  ggml_opt_result_reset: NativeFunction<[result: bigint], void>;
  ggml_opt_result_ndata: NativeFunction<[result: bigint, ndata: [number | bigint]], void>;
  ggml_opt_result_loss: NativeFunction<[result: bigint, loss: [number], uncertainty: [number] | null], void>;
  ggml_opt_result_accuracy: NativeFunction<[result: bigint, accuracy: [number], uncertainty: [number] | null], void>;
  ggml_opt_get_default_optimizer_params: NativeFunction<[userdata: NativePointer], GgmlOptOptimizerParamsValue>;
  llama_backend_init: NativeFunction<[], void>;
  llama_model_quantize_default_params: NativeFunction<[], LlamaModelQuantizeParamsValue>;
  llama_model_quantize: NativeFunction<[input: string, output: string, params: LlamaModelQuantizeParamsValue], number>;
  llama_model_default_params: NativeFunction<[], LlamaModelParamsValue>;
  llama_context_default_params: NativeFunction<[], LlamaContextParamsValue>;
  llama_model_load_from_file: NativeFunction<[path: string, params: LlamaModelParamsValue], NativePointer>;
  llama_model_free: NativeFunction<[model: bigint], void>;
  llama_model_save_to_file: NativeFunction<[model: bigint, path: string], void>;
  llama_model_get_vocab: NativeFunction<[model: bigint], NativePointer>;
  llama_model_n_ctx_train: NativeFunction<[model: bigint], number>;
  llama_model_meta_val_str: NativeFunction<[model: bigint, key: string, buffer: Buffer, size: number], number>;
  llama_vocab_n_tokens: NativeFunction<[vocab: bigint], number>;
  llama_init_from_model: NativeFunction<[model: bigint, params: LlamaContextParamsValue], NativePointer>;
  llama_free: NativeFunction<[context: bigint], void>;
  llama_n_ctx: NativeFunction<[context: bigint], number>;
  llama_n_batch: NativeFunction<[context: bigint], number>;
  llama_n_ubatch: NativeFunction<[context: bigint], number>;
  llama_decode: NativeFunction<[context: bigint, batch: LlamaBatchValue], number>;
  llama_opt_init: NativeFunction<[context: bigint, model: bigint, params: LlamaOptParamsValue], void>;
  llama_opt_epoch: NativeFunction<
    [
      context: bigint,
      dataset: bigint,
      resultTrain: NativePointer,
      resultEval: NativePointer,
      idataSplit: number,
      callbackTrain: NativePointer,
      callbackEval: NativePointer,
    ],
    void
  >;
}

/** The bundled libraries, loaded, with the functions the trainer uses. */
export interface LlamaNative {
  /** Directory of the prebuilt binaries the libraries were loaded from. */
  readonly binsDir: string;
  /** Paths of the three libraries, in load order. */
  readonly libraries: { readonly ggmlBase: string; readonly ggml: string; readonly llama: string };
  readonly fn: LlamaNativeFunctions;
  /** Native address of an exported symbol (a function pointer for callbacks llama.cpp calls). */
  symbol(name: string): bigint;
}

/** Options of {@link loadLlamaNative} and {@link locateLlamaBins}. */
export interface LlamaNativeOptions {
  /**
   * Directory holding `libggml-base`, `libggml` and `libllama`. Defaults to the `LLAMA_ACTORS_LLAMA_BINS`
   * environment variable, else the bins directory of node-llama-cpp's prebuilt package for this
   * platform (`@node-llama-cpp/<platform>-<arch>`, CPU build).
   */
  binsDir?: string;
}

/**
 * Stacks of koffi calls: koffi runs native code on its own preallocated stack, 128 KiB for async
 * calls by default, and llama.cpp's graph building and compute (which the calling thread takes part
 * in) are not written for a small stack. 8 MiB is what a glibc thread gets.
 */
const NATIVE_STACK_BYTES = 8 << 20;

/** Prebuilt package names node-llama-cpp uses for CPU builds, by `${platform}-${arch}`. */
const PREBUILT_PACKAGES: Record<string, string> = {
  'linux-x64': '@node-llama-cpp/linux-x64',
  'linux-arm64': '@node-llama-cpp/linux-arm64',
  'linux-arm': '@node-llama-cpp/linux-armv7l',
  'darwin-arm64': '@node-llama-cpp/mac-arm64-metal',
  'darwin-x64': '@node-llama-cpp/mac-x64',
  'win32-x64': '@node-llama-cpp/win-x64',
  'win32-arm64': '@node-llama-cpp/win-arm64',
};

const LIBRARY_PATTERNS = {
  ggmlBase: /^(lib)?ggml-base\.(so|dylib|dll)$/,
  ggml: /^(lib)?ggml(\.v[\d.]+)?\.(so|dylib|dll)$/,
  llama: /^(lib)?llama(\.v[\d.]+)?\.(so|dylib|dll)$/,
} as const;

const loaded = new Map<string, LlamaNative>();

/**
 * Finds the directory of node-llama-cpp's prebuilt llama.cpp binaries for this platform.
 *
 * @throws {NativeLibraryNotFoundError} when no such directory holds the three libraries.
 */
export function locateLlamaBins(options: LlamaNativeOptions = {}): string {
  const explicit = options.binsDir ?? process.env.LLAMA_ACTORS_LLAMA_BINS;
  if (explicit !== undefined && explicit !== '') {
    findLibraries(explicit);
    return explicit;
  }
  const key = `${process.platform}-${process.arch}`;
  const packageName = PREBUILT_PACKAGES[key];
  if (packageName === undefined) {
    throw new NativeLibraryNotFoundError(`no prebuilt llama.cpp package is known for ${key}`);
  }
  const entry = resolvePackage(packageName);
  if (entry === undefined) {
    throw new NativeLibraryNotFoundError(
      `${packageName} is not installed (node-llama-cpp installs it as an optional dependency); set LLAMA_ACTORS_LLAMA_BINS to a llama.cpp build's library directory`,
    );
  }
  // The package's entry is dist/index.js; its binaries live in bins/<name>/ next to dist/.
  const binsRoot = join(dirname(entry), '..', 'bins');
  const candidates = existsSync(binsRoot) ? readdirSync(binsRoot).map((name) => join(binsRoot, name)) : [];
  for (const candidate of candidates) {
    try {
      findLibraries(candidate);
      return candidate;
    } catch {
      // Try the next directory.
    }
  }
  throw new NativeLibraryNotFoundError(`${packageName} has no directory under ${binsRoot} with libggml-base, libggml and libllama`);
}

/**
 * Loads the bundled `libggml-base`, `libggml` and `libllama` (in that order: each needs the one
 * before) and binds the training API. Cached per directory: a library is loaded once per process.
 * Does not initialize backends; see {@link initLlamaBackends}.
 *
 * @example
 * ```ts
 * const native = loadLlamaNative();
 * initLlamaBackends(native);
 * const defaults = native.fn.llama_context_default_params();
 * ```
 * @throws {NativeLibraryNotFoundError} when the libraries cannot be found or loaded.
 */
export function loadLlamaNative(options: LlamaNativeOptions = {}): LlamaNative {
  const binsDir = locateLlamaBins(options);
  const cached = loaded.get(binsDir);
  if (cached !== undefined) return cached;

  const libraries = findLibraries(binsDir);
  const config = koffi.config();
  if ((config.sync_stack_size ?? 0) < NATIVE_STACK_BYTES || (config.async_stack_size ?? 0) < NATIVE_STACK_BYTES) {
    try {
      koffi.config({
        ...config,
        sync_stack_size: Math.max(config.sync_stack_size ?? 0, NATIVE_STACK_BYTES),
        async_stack_size: Math.max(config.async_stack_size ?? 0, NATIVE_STACK_BYTES),
      });
    } catch {
      // koffi refuses once any library is loaded in this process; its defaults then apply.
    }
  }
  let ggmlBase: koffi.LibraryHandle;
  let ggml: koffi.LibraryHandle;
  let llama: koffi.LibraryHandle;
  try {
    ggmlBase = koffi.load(libraries.ggmlBase);
    ggml = koffi.load(libraries.ggml);
    llama = koffi.load(libraries.llama);
  } catch (error) {
    throw new NativeLibraryNotFoundError(`cannot load llama.cpp from ${binsDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }

  // koffi types a bound function as taking and returning anything; the interface gives each one
  // the TypeScript form of its C declaration, which callers are checked against.
  const fn: LlamaNativeFunctions = {
    ggml_backend_load_all_from_path: ggml.func('void ggml_backend_load_all_from_path(const char *dir)'),
    ggml_get_name: ggmlBase.func('const char *ggml_get_name(void *tensor)'),
    ggml_get_data: ggmlBase.func('void *ggml_get_data(void *tensor)'),
    ggml_opt_dataset_init: ggmlBase.func(
      'void *ggml_opt_dataset_init(int type_data, int type_label, int64_t ne_datapoint, int64_t ne_label, int64_t ndata, int64_t ndata_shard)',
    ),
    ggml_opt_dataset_free: ggmlBase.func('void ggml_opt_dataset_free(void *dataset)'),
    ggml_opt_dataset_ndata: ggmlBase.func('int64_t ggml_opt_dataset_ndata(void *dataset)'),
    ggml_opt_dataset_data: ggmlBase.func('void *ggml_opt_dataset_data(void *dataset)'),
    ggml_opt_dataset_labels: ggmlBase.func('void *ggml_opt_dataset_labels(void *dataset)'),
    ggml_opt_result_init: ggmlBase.func('void *ggml_opt_result_init()'),
    ggml_opt_result_free: ggmlBase.func('void ggml_opt_result_free(void *result)'),
    ggml_opt_result_reset: ggmlBase.func('void ggml_opt_result_reset(void *result)'),
    ggml_opt_result_ndata: ggmlBase.func('void ggml_opt_result_ndata(void *result, _Out_ int64_t *ndata)'),
    ggml_opt_result_loss: ggmlBase.func('void ggml_opt_result_loss(void *result, _Out_ double *loss, _Out_ double *unc)'),
    ggml_opt_result_accuracy: ggmlBase.func(
      'void ggml_opt_result_accuracy(void *result, _Out_ double *accuracy, _Out_ double *unc)',
    ),
    ggml_opt_get_default_optimizer_params: ggmlBase.func(
      'ggml_opt_optimizer_params ggml_opt_get_default_optimizer_params(void *userdata)',
    ),
    llama_backend_init: llama.func('void llama_backend_init()'),
    llama_model_quantize_default_params: llama.func('llama_model_quantize_params llama_model_quantize_default_params()'),
    llama_model_quantize: llama.func(
      'uint32_t llama_model_quantize(const char *fname_inp, const char *fname_out, const llama_model_quantize_params *params)',
    ),
    llama_model_default_params: llama.func('llama_model_params llama_model_default_params()'),
    llama_context_default_params: llama.func('llama_context_params llama_context_default_params()'),
    llama_model_load_from_file: llama.func('void *llama_model_load_from_file(const char *path, llama_model_params params)'),
    llama_model_free: llama.func('void llama_model_free(void *model)'),
    llama_model_save_to_file: llama.func('void llama_model_save_to_file(void *model, const char *path)'),
    llama_model_get_vocab: llama.func('void *llama_model_get_vocab(void *model)'),
    llama_model_n_ctx_train: llama.func('int32_t llama_model_n_ctx_train(void *model)'),
    llama_model_meta_val_str: llama.func('int32_t llama_model_meta_val_str(void *model, const char *key, void *buf, size_t buf_size)'),
    llama_vocab_n_tokens: llama.func('int32_t llama_vocab_n_tokens(void *vocab)'),
    llama_init_from_model: llama.func('void *llama_init_from_model(void *model, llama_context_params params)'),
    llama_free: llama.func('void llama_free(void *ctx)'),
    llama_n_ctx: llama.func('uint32_t llama_n_ctx(void *ctx)'),
    llama_n_batch: llama.func('uint32_t llama_n_batch(void *ctx)'),
    llama_n_ubatch: llama.func('uint32_t llama_n_ubatch(void *ctx)'),
    llama_decode: llama.func('int32_t llama_decode(void *ctx, llama_batch batch)'),
    llama_opt_init: llama.func('void llama_opt_init(void *ctx, void *model, llama_opt_params params)'),
    llama_opt_epoch: llama.func(
      'void llama_opt_epoch(void *ctx, void *dataset, void *result_train, void *result_eval, int64_t idata_split, void *callback_train, void *callback_eval)',
    ),
  };

  const handles = [ggmlBase, ggml, llama];
  const native: LlamaNative = {
    binsDir,
    libraries,
    fn,
    symbol(name: string): bigint {
      for (const handle of handles) {
        let address: unknown;
        try {
          address = handle.symbol(name);
        } catch {
          continue;
        }
        if (typeof address === 'bigint' && address !== 0n) return address;
      }
      throw new NativeLibraryNotFoundError(`symbol ${name} is not exported by the llama.cpp libraries in ${binsDir}`);
    },
  };
  loaded.set(binsDir, native);
  return native;
}

/**
 * Registers the backends (CPU variants) found next to the libraries. Without it llama.cpp has no
 * CPU device and `llama_model_load_from_file` returns NULL. Once per process: node-llama-cpp does
 * the same for its own copy, so do not call this in a process that also uses node-llama-cpp.
 */
export function initLlamaBackends(native: LlamaNative): void {
  if (backendsReady.has(native.binsDir)) return;
  native.fn.llama_backend_init();
  native.fn.ggml_backend_load_all_from_path(native.binsDir);
  backendsReady.add(native.binsDir);
}

const backendsReady = new Set<string>();

function findLibraries(dir: string): LlamaNative['libraries'] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new NativeLibraryNotFoundError(`llama.cpp library directory ${dir} cannot be read`, { cause: error });
  }
  const pick = (pattern: RegExp, label: string): string => {
    const name = names.find((candidate) => pattern.test(candidate));
    if (name === undefined) throw new NativeLibraryNotFoundError(`${label} not found in ${dir}`);
    return join(dir, name);
  };
  return {
    ggmlBase: pick(LIBRARY_PATTERNS.ggmlBase, 'libggml-base'),
    ggml: pick(LIBRARY_PATTERNS.ggml, 'libggml'),
    llama: pick(LIBRARY_PATTERNS.llama, 'libllama'),
  };
}

function resolvePackage(name: string): string | undefined {
  // The prebuilt package is node-llama-cpp's dependency: resolve it from there first, in case it is
  // not hoisted next to ours.
  const require = createRequire(import.meta.url);
  const bases: string[] = [];
  try {
    bases.push(require.resolve('node-llama-cpp'));
  } catch {
    // node-llama-cpp itself may be missing; the error below names the prebuilt package.
  }
  bases.push(import.meta.url);
  for (const base of bases) {
    try {
      return createRequire(base).resolve(name);
    } catch {
      // Not resolvable from this base.
    }
  }
  return undefined;
}
