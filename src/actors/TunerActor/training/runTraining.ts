import { rename, rm } from 'node:fs/promises';
import * as koffi from 'koffi';
import { learningRateForEpoch } from './learningRateSchedule.js';
import {
  GgmlOptEpochCallback,
  GgmlOptOptimizer,
  GgmlOptOptimizerParams,
  type GgmlOptOptimizerParamsValue,
  GgmlTypeId,
  initLlamaBackends,
  LlamaFlashAttnType,
  LlamaFtype,
  LlamaLoadMode,
  type LlamaNative,
  type LlamaNativeOptions,
  LlamaOptParamFilter,
  loadLlamaNative,
} from './llamaNative.js';
import { setGgufUint32 } from './setGgufUint32.js';
import { buildTokenWindows, checkTokenVocabulary, type TokenWindows } from './tokenWindows.js';
import type { EpochMetrics, TrainingOutcome, TrainingProgress, TrainingStartInfo } from './TrainerMessage.js';
import { describeTrainableTensors, isTrainableTensor, NEVER_TRAINED_TENSORS } from './trainableTensors.js';
import { F32_COPY_SUFFIX, PARTIAL_SUFFIX, type ResolvedTrainingJob } from './TrainingJob.js';
import {
  InvalidTrainingJobError,
  ModelLoadFailedError,
  NoTrainableTensorsError,
  NotEnoughTokensError,
} from './trainingErrors.js';
import { mulberry32 } from '../../../messaging/mulberry32.js';

/** Callbacks and settings of {@link runTraining}. */
export interface RunTrainingOptions {
  /** Called once the model is loaded and the data laid out. */
  onStarted?: (info: TrainingStartInfo) => void;
  /** Called during and at the end of every epoch. */
  onProgress?: (progress: TrainingProgress) => void;
  /**
   * Called after every training micro-batch, on the JavaScript thread, while native training waits:
   * keep it cheap. The trainer process uses it to exit as soon as its parent is gone.
   */
  onMicroBatch?: () => void;
  /**
   * How `llama_opt_epoch` (and the save) are called: `async` on a koffi worker thread, which keeps
   * the event loop free; `sync` on this thread, which blocks it for a whole epoch. `sync` is faster
   * (measured 4-8 % at 2 threads on 2 cores, see bench/RESULTS.md) and is what the trainer process
   * uses: it has nothing else to do, its progress still goes out during the epoch (IPC writes are
   * attempted synchronously) and it is stopped by a signal. Defaults to `async`.
   */
  nativeCalls?: 'sync' | 'async';
  /** Where the llama.cpp libraries are. Defaults to node-llama-cpp's prebuilt ones. */
  native?: LlamaNativeOptions;
}

/**
 * Trains a model in this process with llama.cpp's `llama_opt_*` API. This is the body of the
 * trainer child process; call it directly only where a native abort (llama.cpp ends the process on
 * a failed `GGML_ASSERT`) may take the whole process down, e.g. a benchmark. Everything llama.cpp
 * asserts on is checked first, so that should not happen for a job that passed
 * {@link resolveTrainingJob}.
 *
 * The sequence, as in llama.cpp's `examples/training/finetune.cpp`: load the model without mmap
 * (weights must be writable), create a context with F32 KV cache (OUT_PROD has no F16 backward) and
 * flash attention off, run one ordinary decode (without it the training graphs ignore the thread
 * count and spin in `ggml_barrier`, ~60× slower), `llama_opt_init` once, then `llama_opt_epoch` per
 * epoch (see {@link RunTrainingOptions.nativeCalls}).
 */
export async function runTraining(job: ResolvedTrainingJob, options: RunTrainingOptions = {}): Promise<TrainingOutcome> {
  const started = performance.now();
  const native = loadLlamaNative(options.native);
  initLlamaBackends(native);
  const { fn } = native;
  const disposers: Array<() => void> = [];
  const partialPath = job.outputPath + PARTIAL_SUFFIX;
  const nativeCalls = options.nativeCalls ?? 'async';

  try {
    let modelPath = job.baseModelPath;
    if (job.convertToF32) {
      modelPath = job.outputPath + F32_COPY_SUFFIX;
      await convertToF32(native, job.baseModelPath, modelPath, job.threads);
    }
    const modelParams = fn.llama_model_default_params();
    modelParams.n_gpu_layers = 0;
    modelParams.load_mode = LlamaLoadMode.None; // training writes to the weights: no read-only mmap
    modelParams.use_extra_bufts = false; // repacked buffers cannot be trained
    const model = fn.llama_model_load_from_file(modelPath, modelParams);
    if (job.convertToF32) await rm(modelPath, { force: true });
    if (model === null) throw new ModelLoadFailedError(job.baseModelPath, 'llama_model_load_from_file returned NULL (see stderr)');
    disposers.push(() => fn.llama_model_free(model));

    const vocab = fn.llama_model_get_vocab(model);
    const vocabularySize = vocab === null ? 0 : fn.llama_vocab_n_tokens(vocab);
    checkTokenVocabulary(job.train, 'train', vocabularySize);
    checkTokenVocabulary(job.validation, 'validation', vocabularySize);
    const baseContextLength = fn.llama_model_n_ctx_train(model);

    const contextParams = fn.llama_context_default_params();
    contextParams.n_ctx = job.contextSize;
    contextParams.n_batch = job.batchSize;
    contextParams.n_ubatch = job.microBatchSize;
    contextParams.n_seq_max = 1;
    contextParams.n_threads = job.threads;
    contextParams.n_threads_batch = job.threads;
    contextParams.type_k = GgmlTypeId.F32;
    contextParams.type_v = GgmlTypeId.F32;
    contextParams.flash_attn_type = LlamaFlashAttnType.Disabled;
    const context = fn.llama_init_from_model(model, contextParams);
    if (context === null) throw new ModelLoadFailedError(job.baseModelPath, 'llama_init_from_model returned NULL (see stderr)');
    disposers.push(() => fn.llama_free(context));

    // Re-check what llama.cpp made of the sizes: these are the GGML_ASSERTs of llama_opt_init.
    const contextSize = fn.llama_n_ctx(context);
    const batchSize = Math.min(fn.llama_n_batch(context), contextSize);
    const microBatchSize = Math.min(fn.llama_n_ubatch(context), batchSize);
    if (contextSize % batchSize !== 0) {
      throw new InvalidTrainingJobError('batchSize', `context ${contextSize} is not a multiple of batch ${batchSize}`);
    }
    if (batchSize % microBatchSize !== 0) {
      throw new InvalidTrainingJobError('microBatchSize', `batch ${batchSize} is not a multiple of micro-batch ${microBatchSize}`);
    }

    const trainWindows = buildTokenWindows(job.train, contextSize, job.stride);
    const validationWindows = buildTokenWindows(job.validation, contextSize, job.stride);
    if (trainWindows.starts.length === 0) throw new NotEnoughTokensError('train', trainWindows.stream.length, contextSize);

    warmUp(native, context, trainWindows.stream[0] ?? 0);

    const trainDataset = createDataset(native, trainWindows, disposers);
    const validationDataset = validationWindows.starts.length > 0 ? createDataset(native, validationWindows, disposers) : null;

    // The optimizer reads its settings from this memory before every step
    // (ggml_opt_get_constant_optimizer_params), so writing it between epochs changes the rate.
    const defaults = fn.ggml_opt_get_default_optimizer_params(null);
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
    setLearningRate(learningRateForEpoch(0, job.epochs, job.learningRate, job.minLearningRate));

    const { trainableTensors, skippedTensors } = initOptimizer(native, context, model, job, optimizerParams);

    const resultTrain = fn.ggml_opt_result_init();
    const resultEval = fn.ggml_opt_result_init();
    if (resultTrain === null || resultEval === null) throw new Error('ggml_opt_result_init returned NULL');
    disposers.push(() => fn.ggml_opt_result_free(resultTrain), () => fn.ggml_opt_result_free(resultEval));

    const microBatchesPerWindow = contextSize / microBatchSize;
    const steps = trainWindows.starts.length * microBatchesPerWindow;
    const validationSteps = validationWindows.starts.length * microBatchesPerWindow;
    const info: TrainingStartInfo = {
      contextSize,
      batchSize,
      microBatchSize,
      vocabularySize,
      baseContextLength,
      trainWindows: trainWindows.starts.length,
      validationWindows: validationWindows.starts.length,
      trainTokens: trainWindows.stream.length,
      validationTokens: validationWindows.stream.length,
      stepsPerEpoch: steps,
      trainableTensors,
      skippedTensors,
      convertedToF32: job.convertToF32,
    };
    callSafely(() => options.onStarted?.(info));

    const history: EpochMetrics[] = [];
    let evalMsPerStep = 0;
    const validate = async (): Promise<number | null> => {
      if (validationDataset === null) return null;
      const begin = performance.now();
      fn.ggml_opt_result_reset(resultEval);
      await optEpoch(native, nativeCalls, context, validationDataset, null, resultEval, 0, null);
      evalMsPerStep = (performance.now() - begin) / validationSteps;
      return resultLoss(native, resultEval);
    };

    const initialValidationLoss = await validate();
    history.push({
      epoch: 0,
      trainLoss: null,
      validationLoss: initialValidationLoss,
      learningRate: learningRateForEpoch(0, job.epochs, job.learningRate, job.minLearningRate),
      tokensPerSecond: null,
      durationMs: performance.now() - started,
    });

    const order = trainWindows.starts.map((_, index) => index);
    const random = mulberry32(job.seed);
    let validationLoss = initialValidationLoss;
    let trainMs = 0;
    let trainedTokens = 0;
    let trainMsPerStep = 0;

    for (let epoch = 1; epoch <= job.epochs; epoch++) {
      const epochStarted = performance.now();
      const learningRate = learningRateForEpoch(epoch - 1, job.epochs, job.learningRate, job.minLearningRate);
      setLearningRate(learningRate);
      if (job.shuffle && order.length > 1) {
        shuffle(order, random);
        fillDataset(native, trainDataset, trainWindows, order);
      }
      fn.ggml_opt_result_reset(resultTrain);

      let lastReport = epochStarted;
      const eta = (step: number): number => {
        const remainingTrain = steps - step + (job.epochs - epoch) * steps;
        const remainingValidation = (job.epochs - epoch + 1) * validationSteps;
        return remainingTrain * trainMsPerStep + remainingValidation * (evalMsPerStep || trainMsPerStep / 3);
      };
      const onBatch = (_train: boolean, _opt: unknown, _dataset: unknown, result: unknown, ibatch: number | bigint): void => {
        callSafely(() => options.onMicroBatch?.());
        const step = Number(ibatch);
        const now = performance.now();
        trainMsPerStep = (trainMs + now - epochStarted) / ((epoch - 1) * steps + step);
        if (options.onProgress === undefined || step >= steps || now - lastReport < job.progressIntervalMs) return;
        lastReport = now;
        // Runs while the native training thread waits for it: a throwing consumer must not reach koffi.
        callSafely(() => options.onProgress?.({
          epoch,
          epochs: job.epochs,
          step,
          steps,
          trainLoss: resultLoss(native, result as bigint),
          validationLoss,
          learningRate,
          tokensPerSecond: (step * microBatchSize * 1000) / (now - epochStarted),
          etaMs: eta(step),
          epochComplete: false,
        }));
      };
      const callback = koffi.register(onBatch, koffi.pointer(GgmlOptEpochCallback));
      try {
        await optEpoch(native, nativeCalls, context, trainDataset, resultTrain, null, trainWindows.starts.length, callback);
      } finally {
        koffi.unregister(callback);
      }
      const epochTrainMs = performance.now() - epochStarted;
      trainMs += epochTrainMs;
      trainedTokens += steps * microBatchSize;
      trainMsPerStep = trainMs / (epoch * steps);
      const trainLoss = resultLoss(native, resultTrain);
      validationLoss = await validate();
      const tokensPerSecond = (steps * microBatchSize * 1000) / epochTrainMs;
      history.push({
        epoch,
        trainLoss,
        validationLoss,
        learningRate,
        tokensPerSecond,
        durationMs: performance.now() - epochStarted,
      });
      callSafely(() => options.onProgress?.({
        epoch,
        epochs: job.epochs,
        step: steps,
        steps,
        trainLoss,
        validationLoss,
        learningRate,
        tokensPerSecond,
        etaMs: Math.max(0, eta(steps) - validationSteps * evalMsPerStep),
        epochComplete: true,
      }));
    }

    await rm(partialPath, { force: true });
    if (nativeCalls === 'sync') {
      fn.llama_model_save_to_file(model, partialPath);
    } else {
      await new Promise<void>((resolve, reject) => {
        fn.llama_model_save_to_file.async(model, partialPath, (error) => (error ? reject(error as Error) : resolve()));
      });
    }
    if (job.keepContextLength && baseContextLength !== contextSize) {
      const architecture = modelArchitecture(native, model);
      if (architecture !== undefined) setGgufUint32(partialPath, `${architecture}.context_length`, baseContextLength);
    }
    await rename(partialPath, job.outputPath);

    const last = history[history.length - 1]!;
    return {
      outputPath: job.outputPath,
      trainLoss: last.trainLoss ?? Number.NaN,
      validationLoss: last.validationLoss,
      initialValidationLoss,
      history,
      tokensPerSecond: (trainedTokens * 1000) / trainMs,
      durationMs: performance.now() - started,
      info,
    };
  } catch (error) {
    await rm(partialPath, { force: true });
    throw error;
  } finally {
    for (const dispose of disposers.reverse()) dispose();
  }
}

async function convertToF32(native: LlamaNative, input: string, output: string, threads: number): Promise<void> {
  const params = native.fn.llama_model_quantize_default_params();
  params.ftype = LlamaFtype.AllF32;
  params.nthread = threads;
  params.allow_requantize = false;
  const status = await new Promise<number>((resolve, reject) => {
    native.fn.llama_model_quantize.async(input, output, params, (error, result) => (error ? reject(error as Error) : resolve(result)));
  });
  if (status !== 0) {
    await rm(output, { force: true });
    throw new ModelLoadFailedError(input, `converting it to F32 failed (llama_model_quantize returned ${status})`);
  }
}

/** One ordinary decode: the first `llama_decode` sets up the thread pool the training graphs then use. */
function warmUp(native: LlamaNative, context: bigint, token: number): void {
  const tokenMemory: unknown = koffi.alloc('int32_t', 1);
  try {
    koffi.encode(tokenMemory, 'int32_t', token);
    const status = native.fn.llama_decode(context, {
      n_tokens: 1,
      token: tokenMemory as bigint,
      embd: null,
      pos: null,
      n_seq_id: null,
      seq_id: null,
      logits: null,
    });
    if (status !== 0) throw new Error(`warm-up llama_decode returned ${status}`);
  } finally {
    koffi.free(tokenMemory);
  }
}

function createDataset(native: LlamaNative, windows: TokenWindows, disposers: Array<() => void>): bigint {
  const { fn } = native;
  const count = windows.starts.length;
  const dataset = fn.ggml_opt_dataset_init(GgmlTypeId.I32, GgmlTypeId.I32, windows.contextSize, windows.contextSize, count, 1);
  if (dataset === null) throw new Error('ggml_opt_dataset_init returned NULL');
  disposers.push(() => fn.ggml_opt_dataset_free(dataset));
  fillDataset(native, dataset, windows, windows.starts.map((_, index) => index));
  return dataset;
}

/** Writes the windows, in `order`, into the dataset's data (inputs) and labels (next tokens). */
function fillDataset(native: LlamaNative, dataset: bigint, windows: TokenWindows, order: readonly number[]): void {
  const { fn } = native;
  const size = windows.contextSize;
  const data = tensorInt32(native, fn.ggml_opt_dataset_data(dataset), order.length * size);
  const labels = tensorInt32(native, fn.ggml_opt_dataset_labels(dataset), order.length * size);
  order.forEach((window, slot) => {
    const start = windows.starts[window]!;
    data.set(windows.stream.subarray(start, start + size), slot * size);
    labels.set(windows.stream.subarray(start + 1, start + size + 1), slot * size);
  });
}

function tensorInt32(native: LlamaNative, tensor: bigint | null, length: number): Int32Array {
  if (tensor === null) throw new Error('dataset tensor is NULL');
  const pointer = native.fn.ggml_get_data(tensor);
  if (pointer === null) throw new Error('dataset tensor has no data');
  return new Int32Array(koffi.view(pointer, length * 4));
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

function optEpoch(
  native: LlamaNative,
  mode: 'sync' | 'async',
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

function resultLoss(native: LlamaNative, result: bigint): number {
  const loss: [number] = [Number.NaN];
  native.fn.ggml_opt_result_loss(result, loss, null);
  return loss[0];
}

function modelArchitecture(native: LlamaNative, model: bigint): string | undefined {
  const buffer = Buffer.alloc(256);
  const length = native.fn.llama_model_meta_val_str(model, 'general.architecture', buffer, buffer.length);
  return length > 0 ? buffer.toString('utf8', 0, Math.min(length, buffer.length - 1)) : undefined;
}

function callSafely(callback: () => void): void {
  try {
    callback();
  } catch {
    // The consumer's problem, not the training's.
  }
}

function shuffle(order: number[], random: () => number): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
}
