import type { LlamaNative } from './llamaNative.js';
import type { NativeCallMode } from './RunTrainingOptions.js';

/** The two `ggml_opt_result`s of a run: one accumulates the training loss, one the validation loss. */
export interface OptResults {
  train: bigint;
  eval: bigint;
}

/** Creates the {@link OptResults} of a run; their frees are pushed onto `disposers`. */
export function createOptResults(native: LlamaNative, disposers: Array<() => void>): OptResults {
  const { fn } = native;
  const train = fn.ggml_opt_result_init();
  const evaluation = fn.ggml_opt_result_init();
  if (train === null || evaluation === null) throw new Error('ggml_opt_result_init returned NULL');
  disposers.push(() => fn.ggml_opt_result_free(train), () => fn.ggml_opt_result_free(evaluation));
  return { train, eval: evaluation };
}

/**
 * One `llama_opt_epoch` over `dataset`: the first `split` datapoints train (into `resultTrain`),
 * the rest are evaluated (into `resultEval`). `sync` blocks this thread for the epoch; `async` runs
 * it on a koffi worker thread, `callbackTrain` then still being called on this one.
 */
export function optEpoch(
  native: LlamaNative,
  mode: NativeCallMode,
  context: bigint,
  dataset: bigint,
  resultTrain: bigint | null,
  resultEval: bigint | null,
  split: number,
  callbackTrain: bigint | null,
): Promise<void> {
  if (mode === 'sync') {
    native.fn.llama_opt_epoch(context, dataset, resultTrain, resultEval, split, callbackTrain, null);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    native.fn.llama_opt_epoch.async(context, dataset, resultTrain, resultEval, split, callbackTrain, null, (error) =>
      error ? reject(error as Error) : resolve(),
    );
  });
}

/** The loss accumulated in a `ggml_opt_result` since its last reset. */
export function resultLoss(native: LlamaNative, result: bigint): number {
  const loss: [number] = [Number.NaN];
  native.fn.ggml_opt_result_loss(result, loss, null);
  return loss[0];
}
