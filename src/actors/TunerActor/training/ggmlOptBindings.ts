/**
 * Bindings for training: the optimizer (`llama_opt_*`, `ggml_opt_*` of `ggml-opt.h`), its datasets
 * and its results. Layouts are copied from the bundled `llama.h` / `ggml-opt.h` (see
 * `llamaNative.ts` for which build and how they are checked).
 */
import * as koffi from 'koffi';
import type { LlamaLibraryHandles, NativeFunction, NativePointer } from './NativeFunction.js';

/** `enum ggml_opt_optimizer_type`. */
export const GgmlOptOptimizer = { AdamW: 0, Sgd: 1 } as const;

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

/** `llama_opt_param_filter`: called once per candidate tensor during `llama_opt_init`. */
export const LlamaOptParamFilter = koffi.proto('bool llama_opt_param_filter(void *tensor, void *userdata)');

/** `ggml_opt_epoch_callback`: called after every micro-batch of `llama_opt_epoch`. */
export const GgmlOptEpochCallback = koffi.proto(
  'void ggml_opt_epoch_callback(bool train, void *opt_ctx, void *dataset, void *result, int64_t ibatch, int64_t ibatch_max, int64_t t_start_us)',
);

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

/** The bound optimizer, dataset and result functions, named as in C. */
export interface GgmlOptFunctions {
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

/** Binds {@link GgmlOptFunctions} in the loaded libraries. */
export function bindGgmlOptFunctions({ ggmlBase, llama }: LlamaLibraryHandles): GgmlOptFunctions {
  return {
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
    llama_opt_init: llama.func('void llama_opt_init(void *ctx, void *model, llama_opt_params params)'),
    llama_opt_epoch: llama.func(
      'void llama_opt_epoch(void *ctx, void *dataset, void *result_train, void *result_eval, int64_t idata_split, void *callback_train, void *callback_eval)',
    ),
  };
}
