import { rm } from 'node:fs/promises';
import { callSafely } from './callSafely.js';
import { learningRateForEpoch } from './learningRateSchedule.js';
import { initLlamaBackends, loadLlamaNative } from './llamaNative.js';
import { openTrainingContext, type TrainingContext } from './openTrainingContext.js';
import { createOptDataset } from './optDataset.js';
import { createOptResults } from './optEpoch.js';
import type { RunTrainingOptions } from './RunTrainingOptions.js';
import { saveTrainedModel } from './saveTrainedModel.js';
import { buildTokenWindows, type TokenWindows } from './tokenWindows.js';
import type { TrainingOutcome, TrainingStartInfo } from './TrainerMessage.js';
import { trainEpochs } from './trainEpochs.js';
import { initTrainingOptimizer, type TrainingOptimizer } from './trainingOptimizer.js';
import { PARTIAL_SUFFIX, type ResolvedTrainingJob } from './TrainingJob.js';
import { NotEnoughTokensError } from './trainingErrors.js';
import { warmUpContext } from './warmUpContext.js';

export type { NativeCallMode, RunTrainingOptions } from './RunTrainingOptions.js';

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
  const disposers: Array<() => void> = [];
  const partialPath = job.outputPath + PARTIAL_SUFFIX;
  const nativeCalls = options.nativeCalls ?? 'async';

  try {
    const loaded = await openTrainingContext(native, job, disposers);
    const { model, context, contextSize, microBatchSize } = loaded;
    const trainWindows = buildTokenWindows(job.train, contextSize, job.stride);
    const validationWindows = buildTokenWindows(job.validation, contextSize, job.stride);
    if (trainWindows.starts.length === 0) throw new NotEnoughTokensError('train', trainWindows.stream.length, contextSize);

    warmUpContext(native, context, trainWindows.stream[0] ?? 0);
    const trainDataset = createOptDataset(native, trainWindows, disposers);
    const validationDataset = validationWindows.starts.length > 0 ? createOptDataset(native, validationWindows, disposers) : null;
    const initialRate = learningRateForEpoch(0, job.epochs, job.learningRate, job.minLearningRate);
    const optimizer = initTrainingOptimizer(native, context, model, job, initialRate, disposers);
    const results = createOptResults(native, disposers);

    const info = startInfo(job, loaded, trainWindows, validationWindows, optimizer);
    callSafely(() => options.onStarted?.(info));

    const microBatchesPerWindow = contextSize / microBatchSize;
    const trained = await trainEpochs(
      {
        native,
        nativeCalls,
        context,
        job,
        trainWindows,
        trainDataset,
        validationDataset,
        results,
        setLearningRate: optimizer.setLearningRate,
        microBatchSize,
        steps: info.stepsPerEpoch,
        validationSteps: validationWindows.starts.length * microBatchesPerWindow,
        started,
      },
      options,
    );

    const keepContextLength = job.keepContextLength && loaded.baseContextLength !== contextSize;
    await saveTrainedModel(native, model, {
      partialPath,
      outputPath: job.outputPath,
      nativeCalls,
      contextLength: keepContextLength ? loaded.baseContextLength : undefined,
    });

    const last = trained.history[trained.history.length - 1]!;
    return {
      outputPath: job.outputPath,
      trainLoss: last.trainLoss ?? Number.NaN,
      validationLoss: last.validationLoss,
      initialValidationLoss: trained.initialValidationLoss,
      history: trained.history,
      tokensPerSecond: (trained.trainedTokens * 1000) / trained.trainMs,
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

/** What {@link RunTrainingOptions.onStarted} receives: the sizes settled on and the tensors that train. */
function startInfo(
  job: ResolvedTrainingJob,
  loaded: TrainingContext,
  trainWindows: TokenWindows,
  validationWindows: TokenWindows,
  optimizer: TrainingOptimizer,
): TrainingStartInfo {
  const { contextSize, batchSize, microBatchSize, vocabularySize, baseContextLength } = loaded;
  return {
    contextSize,
    batchSize,
    microBatchSize,
    vocabularySize,
    baseContextLength,
    trainWindows: trainWindows.starts.length,
    validationWindows: validationWindows.starts.length,
    trainTokens: trainWindows.stream.length,
    validationTokens: validationWindows.stream.length,
    stepsPerEpoch: trainWindows.starts.length * (contextSize / microBatchSize),
    trainableTensors: optimizer.trainableTensors,
    skippedTensors: optimizer.skippedTensors,
    convertedToF32: job.convertToF32,
  };
}
