/**
 * Bindings for models and contexts: loading, saving and converting (`llama_model_quantize`) a
 * model, reading its vocabulary and metadata, and creating a context. Layouts are copied from the
 * bundled `llama.h` (see `llamaNative.ts` for which build and how they are checked).
 */
import * as koffi from 'koffi';
import type { LlamaLibraryHandles, NativeFunction, NativePointer } from './NativeFunction.js';

// Enum values from llama.h of the bundled build.
/** `enum llama_load_mode`. */
export const LlamaLoadMode = { Auto: -1, None: 0, Mmap: 1 } as const;
/** `enum llama_flash_attn_type`. */
export const LlamaFlashAttnType = { Auto: -1, Disabled: 0, Enabled: 1 } as const;
/** `enum llama_ftype`, the values the trainer uses. */
export const LlamaFtype = { AllF32: 0, MostlyF16: 1 } as const;

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

/** The bound model and context functions, named as in C. */
export interface LlamaModelFunctions {
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
}

/** Binds {@link LlamaModelFunctions} in the loaded libraries. */
export function bindLlamaModelFunctions({ llama }: LlamaLibraryHandles): LlamaModelFunctions {
  return {
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
  };
}
