import * as koffi from 'koffi';
import { callSafely } from './callSafely.js';
import { learningRateForEpoch } from './learningRateSchedule.js';
import { GgmlOptEpochCallback, type LlamaNative } from './llamaNative.js';
import { type OptResults, optEpoch, resultLoss } from './optEpoch.js';
import { reshuffleOptDataset } from './optDataset.js';
import type { NativeCallMode, RunTrainingOptions } from './RunTrainingOptions.js';
import type { TokenWindows } from './tokenWindows.js';
import type { EpochMetrics } from './TrainerMessage.js';
import type { ResolvedTrainingJob } from './TrainingJob.js';
import { TrainingTimer } from './TrainingTimer.js';
import { mulberry32 } from '../../../messaging/mulberry32.js';

/** What {@link trainEpochs} runs on: a context with its optimizer, datasets and results set up. */
export interface EpochLoopSetup {
  native: LlamaNative;
  nativeCalls: NativeCallMode;
  context: bigint;
  job: ResolvedTrainingJob;
  trainWindows: TokenWindows;
  trainDataset: bigint;
  /** `null` when the job has no validation windows. */
  validationDataset: bigint | null;
  results: OptResults;
  setLearningRate: (rate: number) => void;
  microBatchSize: number;
  /** Training steps (micro-batches) per epoch. */
  steps: number;
  /** Validation steps per pass. */
  validationSteps: number;
  /** When the run started (`performance.now()`), for epoch 0's duration. */
  started: number;
}

/** What {@link trainEpochs} measured. */
export interface EpochLoopResult {
  /** Epoch 0 (the base model's validation loss) and then one entry per epoch. */
  history: EpochMetrics[];
  initialValidationLoss: number | null;
  /** Time spent training (validation excluded), in ms. */
  trainMs: number;
  trainedTokens: number;
}

/**
 * The epoch loop: a validation pass on the base model, then per epoch the epoch's learning rate,
 * a reshuffle (when the job shuffles), one training `llama_opt_epoch` with progress reported from
 * its micro-batch callback, a validation pass and an epoch-complete progress report.
 */
export async function trainEpochs(setup: EpochLoopSetup, options: RunTrainingOptions): Promise<EpochLoopResult> {
  const { native, job, results, steps, microBatchSize } = setup;
  const timer = new TrainingTimer(job.epochs, steps, setup.validationSteps);
  const validate = async (): Promise<number | null> => {
    if (setup.validationDataset === null) return null;
    const begin = performance.now();
    native.fn.ggml_opt_result_reset(results.eval);
    await optEpoch(native, setup.nativeCalls, setup.context, setup.validationDataset, null, results.eval, 0, null);
    timer.validated(performance.now() - begin);
    return resultLoss(native, results.eval);
  };

  const history: EpochMetrics[] = [];
  const initialValidationLoss = await validate();
  history.push({
    epoch: 0,
    trainLoss: null,
    validationLoss: initialValidationLoss,
    learningRate: learningRateForEpoch(0, job.epochs, job.learningRate, job.minLearningRate),
    tokensPerSecond: null,
    durationMs: performance.now() - setup.started,
  });

  const order = setup.trainWindows.starts.map((_, index) => index);
  const random = mulberry32(job.seed);
  let validationLoss = initialValidationLoss;
  let trainedTokens = 0;

  for (let epoch = 1; epoch <= job.epochs; epoch++) {
    const epochStarted = performance.now();
    const learningRate = learningRateForEpoch(epoch - 1, job.epochs, job.learningRate, job.minLearningRate);
    setup.setLearningRate(learningRate);
    if (job.shuffle && order.length > 1) reshuffleOptDataset(native, setup.trainDataset, setup.trainWindows, order, random);
    native.fn.ggml_opt_result_reset(results.train);

    await trainEpoch(setup, { epoch, epochStarted, learningRate, validationLoss }, timer, options);
    const epochTrainMs = performance.now() - epochStarted;
    timer.epochTrained(epoch, epochTrainMs);
    trainedTokens += steps * microBatchSize;
    const trainLoss = resultLoss(native, results.train);
    validationLoss = await validate();
    const tokensPerSecond = (steps * microBatchSize * 1000) / epochTrainMs;
    history.push({ epoch, trainLoss, validationLoss, learningRate, tokensPerSecond, durationMs: performance.now() - epochStarted });
    callSafely(() => options.onProgress?.({
      epoch,
      epochs: job.epochs,
      step: steps,
      steps,
      trainLoss,
      validationLoss,
      learningRate,
      tokensPerSecond,
      etaMs: timer.etaAfterEpochMs(epoch),
      epochComplete: true,
    }));
  }
  return { history, initialValidationLoss, trainMs: timer.trainMs, trainedTokens };
}

/** Where the loop is when an epoch starts. */
interface EpochState {
  epoch: number;
  /** `performance.now()` at the epoch's start. */
  epochStarted: number;
  learningRate: number;
  /** The last validation loss, reported with every in-epoch progress. */
  validationLoss: number | null;
}

/**
 * One training `llama_opt_epoch` over all training windows. Its micro-batch callback times the
 * steps and sends in-epoch progress at most every `progressIntervalMs` (never for the last step:
 * the epoch-complete report follows).
 */
async function trainEpoch(setup: EpochLoopSetup, state: EpochState, timer: TrainingTimer, options: RunTrainingOptions): Promise<void> {
  const { native, job, steps, microBatchSize } = setup;
  const { epoch, epochStarted, learningRate, validationLoss } = state;
  let lastReport = epochStarted;
  const onBatch = (_train: boolean, _opt: unknown, _dataset: unknown, result: unknown, ibatch: number | bigint): void => {
    callSafely(() => options.onMicroBatch?.());
    const step = Number(ibatch);
    const now = performance.now();
    timer.stepped(epoch, step, now - epochStarted);
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
      etaMs: timer.etaMs(epoch, step),
      epochComplete: false,
    }));
  };
  const callback = koffi.register(onBatch, koffi.pointer(GgmlOptEpochCallback));
  const split = setup.trainWindows.starts.length; // every window trains; validation has its own dataset
  try {
    await optEpoch(native, setup.nativeCalls, setup.context, setup.trainDataset, setup.results.train, null, split, callback);
  } finally {
    koffi.unregister(callback);
  }
}
