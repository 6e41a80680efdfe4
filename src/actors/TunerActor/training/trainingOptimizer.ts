import * as koffi from 'koffi';
import {
  GgmlOptOptimizer,
  GgmlOptOptimizerParams,
  type GgmlOptOptimizerParamsValue,
  GgmlTypeId,
  type LlamaNative,
  LlamaOptParamFilter,
} from './llamaNative.js';
import { describeTrainableTensors, isTrainableTensor, NEVER_TRAINED_TENSORS } from './trainableTensors.js';
import type { ResolvedTrainingJob } from './TrainingJob.js';
import { NoTrainableTensorsError } from './trainingErrors.js';

/** The optimizer of a context, set up by {@link initTrainingOptimizer}. */
export interface TrainingOptimizer {
  /** Sets the learning rate of the steps that follow (the job's weight decay stays). */
  setLearningRate(rate: number): void;
  /** Names of the tensors that train. */
  trainableTensors: string[];
  /** Names of the selected tensors that do not, not being F32. */
  skippedTensors: string[];
}

/**
 * Sets up the optimizer of `context` (`llama_opt_init`, once): AdamW or SGD at `initialRate`, over
 * the F32 tensors the job's `trainable` selects. The parameter memory is freed by `disposers`.
 *
 * @throws {NoTrainableTensorsError} when no selected tensor is F32.
 */
export function initTrainingOptimizer(
  native: LlamaNative,
  context: bigint,
  model: bigint,
  job: ResolvedTrainingJob,
  initialRate: number,
  disposers: Array<() => void>,
): TrainingOptimizer {
  // The optimizer reads its settings from this memory before every step
  // (ggml_opt_get_constant_optimizer_params), so writing it between epochs changes the rate.
  const defaults = native.fn.ggml_opt_get_default_optimizer_params(null);
  const optimizerParams: unknown = koffi.alloc(GgmlOptOptimizerParams, 1);
  disposers.push(() => koffi.free(optimizerParams));
  const setLearningRate = (rate: number): void => {
    const value: GgmlOptOptimizerParamsValue = {
      ...defaults,
      adamw_alpha: rate,
      adamw_wd: job.weightDecay,
      sgd_alpha: rate,
      sgd_wd: job.weightDecay,
    };
    koffi.encode(optimizerParams, GgmlOptOptimizerParams, value);
  };
  setLearningRate(initialRate);

  const { trainableTensors, skippedTensors } = initOptimizer(native, context, model, job, optimizerParams);
  return { setLearningRate, trainableTensors, skippedTensors };
}

function initOptimizer(
  native: LlamaNative,
  context: bigint,
  model: bigint,
  job: ResolvedTrainingJob,
  optimizerParams: unknown,
): { trainableTensors: string[]; skippedTensors: string[] } {
  const trainableTensors: string[] = [];
  const skippedTensors: string[] = [];
  // Called synchronously inside llama_opt_init, once per candidate tensor.
  const filter = (tensor: bigint): boolean => {
    const name = native.fn.ggml_get_name(tensor);
    if (NEVER_TRAINED_TENSORS.has(name) || !isTrainableTensor(name, job.trainable)) return false;
    // ggml_tensor starts with its `enum ggml_type`; the optimizer step only exists for F32 and
    // aborts the process on anything else.
    if (koffi.decode(tensor, 'int32_t') !== GgmlTypeId.F32) {
      skippedTensors.push(name);
      return false;
    }
    trainableTensors.push(name);
    return true;
  };
  const filterPointer = koffi.register(filter, koffi.pointer(LlamaOptParamFilter));
  try {
    native.fn.llama_opt_init(context, model, {
      n_ctx_train: 0,
      param_filter: filterPointer,
      param_filter_ud: null,
      get_opt_pars: native.symbol('ggml_opt_get_constant_optimizer_params'),
      get_opt_pars_ud: optimizerParams as bigint,
      optimizer_type: job.optimizer === 'sgd' ? GgmlOptOptimizer.Sgd : GgmlOptOptimizer.AdamW,
    });
  } finally {
    koffi.unregister(filterPointer);
  }
  if (trainableTensors.length === 0) {
    // Nothing is a parameter: ggml_opt would build an empty backward graph. Refuse instead.
    throw new NoTrainableTensorsError(describeTrainableTensors(job.trainable), trainableTensors.length + skippedTensors.length);
  }
  return { trainableTensors, skippedTensors };
}
