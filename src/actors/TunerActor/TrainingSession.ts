import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Clock } from '../../messaging/Clock.js';
import { ActorError, InvalidArgumentError } from '../../messaging/errors.js';
import { defaultThreads } from '../ModelActor/modelDefaults.js';
import type { AdapterSpec } from '../ModelActor/types.js';
import type { EpochMetrics, TrainingOutcome, TrainingProgress } from './training/TrainerMessage.js';
import type { TrainerProcess, TrainerRunOptions } from './training/TrainerProcess.js';
import type { TrainingJob } from './training/TrainingJob.js';
import { createTrainingLifecycle, type TrainingLifecycle, TrainingLifecycleEvent } from './trainingLifecycle.js';
import { NotSupportedByBackendError, TrainingStoppedError } from './tunerErrors.js';
import {
  type ResolvedTrainingConfig,
  type StartTrainingRequest,
  type TrainingDataset,
  type TrainingExample,
  type TrainingMetrics,
  type TrainingProgressEvent,
  type TrainingResult,
  type TrainingRunOptions,
  TrainingSessionState,
  type TrainingStatus,
  type VariantEvaluation,
} from './types.js';
import { validateTrainingConfig } from './validateTrainingConfig.js';

/** @internal What a session needs from its tuner. */
export interface TrainingSessionContext {
  clock: Clock;
  trainer: TrainerProcess;
  /** The base model's path. */
  modelPath: string;
  outputDir: string;
  /** Prepares conversations with the model's chat template. */
  prepare: (request: Exclude<StartTrainingRequest['dataset'], TrainingDataset>, signal: AbortSignal) => Promise<TrainingDataset>;
  /** Evaluates examples with an adapter set on the base model. */
  evaluate: (examples: TrainingExample[], adapters: AdapterSpec[], signal: AbortSignal) => Promise<VariantEvaluation>;
  /** Receives each progress event; awaited (backpressure on progress, never on the trainer). */
  onProgress: (event: TrainingProgressEvent) => void | Promise<void>;
  onState: (state: TrainingSessionState, session: TrainingSession) => void;
}

/**
 * @internal One training run of a TunerActor: preparing (config, data, paths) → training (the
 * trainer child process) → evaluating (LoRA extraction, base vs adapter perplexity) → completed;
 * stopped or failed from any of them. Its state is an xstate machine; its status and metrics can be
 * read at any time.
 */
export class TrainingSession {
  readonly startedAt: number;
  endedAt: number | undefined;
  private readonly lifecycle: TrainingLifecycle;
  private readonly controller = new AbortController();
  private readonly progress: TrainingProgress[] = [];
  /** Epochs completed so far, as measured here while the run goes on (the trainer's own history replaces it at the end). */
  private readonly epochs: EpochMetrics[] = [];
  private lastEpochEndedAt: number | undefined;
  private result: TrainingResult | undefined;
  private error: ActorError | undefined;

  constructor(
    readonly id: string,
    private readonly context: TrainingSessionContext,
  ) {
    this.startedAt = context.clock.now();
    this.lifecycle = createTrainingLifecycle((state) => context.onState(state, this));
  }

  get state(): TrainingSessionState {
    return this.lifecycle.getSnapshot().value as TrainingSessionState;
  }

  get running(): boolean {
    return this.state === TrainingSessionState.Preparing || this.state === TrainingSessionState.Training || this.state === TrainingSessionState.Evaluating;
  }

  /** Stops the run at once: the trainer process is killed and its partial file removed. */
  stop(): void {
    if (!this.running) return;
    this.controller.abort(new TrainingStoppedError(this.id));
  }

  status(): TrainingStatus {
    return {
      sessionId: this.id,
      state: this.state,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      trainerPid: this.state === TrainingSessionState.Training ? this.context.trainer.pid : undefined,
      progress: this.progress.at(-1),
      result: this.result,
      error: this.error ? { code: this.error.code, message: this.error.message } : undefined,
    };
  }

  metrics(): TrainingMetrics {
    return {
      sessionId: this.id,
      state: this.state,
      history: this.result?.history ?? [...this.epochs],
      progress: [...this.progress],
    };
  }

  /** Runs the session to its end; rejects with `TRAINING_STOPPED` when stopped, or the failure's typed error. */
  async run(request: StartTrainingRequest, callerSignal: AbortSignal): Promise<TrainingResult> {
    const signal = AbortSignal.any([this.controller.signal, callerSignal]);
    try {
      const result = await this.pipeline(request, signal);
      this.result = result;
      this.lifecycle.send({ type: TrainingLifecycleEvent.Evaluated });
      return result;
    } catch (caught) {
      const stopped = this.controller.signal.aborted || callerSignal.aborted;
      const error = stopped
        ? new TrainingStoppedError(this.id)
        : caught instanceof ActorError
          ? caught
          : new ActorError('TRAINING_FAILED', `training session ${this.id} failed: ${(caught as Error)?.message ?? String(caught)}`, { cause: caught });
      this.error = error;
      this.lifecycle.send({ type: stopped ? TrainingLifecycleEvent.Stop : TrainingLifecycleEvent.Fail });
      throw error;
    } finally {
      this.endedAt = this.context.clock.now();
    }
  }

  private async pipeline(request: StartTrainingRequest, signal: AbortSignal): Promise<TrainingResult> {
    const run = await this.prepare(request, signal);
    const outcome = await this.context.trainer.run(trainerJob(this.context.modelPath, run), this.trainerCallbacks(run, signal));
    return this.evaluate(run, outcome, signal);
  }

  /** Preparing: the config checked, the data prepared, the output paths chosen and their directories made. */
  private async prepare(request: StartTrainingRequest, signal: AbortSignal): Promise<PreparedRun> {
    const { context } = this;
    if (typeof request !== 'object' || request === null || typeof request.dataset !== 'object' || request.dataset === null) {
      throw new InvalidArgumentError('startTraining needs { dataset, config?, options? }');
    }
    const config = backendConfig(validateTrainingConfig(request.config ?? {}));
    const options = request.options ?? {};
    await context.onProgress({ stage: TrainingSessionState.Preparing, message: 'preparing the training data' });
    const dataset = isPrepared(request.dataset) ? request.dataset : await context.prepare(request.dataset, signal);
    const stem = basename(context.modelPath).replace(/\.gguf$/i, '');
    const modelPath = resolve(options.outputPath ?? join(context.outputDir, `${stem}-${this.id}.gguf`));
    const adapterPath = resolve(options.adapterPath ?? `${modelPath.replace(/\.gguf$/i, '')}-lora-r${config.loraRank}.gguf`);
    await mkdir(dirname(modelPath), { recursive: true });
    await mkdir(dirname(adapterPath), { recursive: true });
    this.check(signal);
    return { config, options, dataset, modelPath, adapterPath };
  }

  /** Training: moves the lifecycle on and records the trainer's progress as it comes. */
  private trainerCallbacks(run: PreparedRun, signal: AbortSignal): TrainerRunOptions {
    const { context } = this;
    return {
      signal,
      onStarted: () => {
        this.lastEpochEndedAt = context.clock.now();
        this.lifecycle.send({ type: TrainingLifecycleEvent.Prepared });
      },
      onProgress: (progress) => {
        this.progress.push(progress);
        if (progress.epochComplete) {
          const now = context.clock.now();
          this.epochs.push({
            epoch: progress.epoch,
            trainLoss: progress.trainLoss,
            validationLoss: progress.validationLoss,
            learningRate: progress.learningRate,
            tokensPerSecond: progress.tokensPerSecond,
            durationMs: now - (this.lastEpochEndedAt ?? now),
          });
          this.lastEpochEndedAt = now;
        }
        // The trainer is never slowed by a slow listener: progress is reported, not awaited.
        void Promise.resolve(context.onProgress({ stage: TrainingSessionState.Training, ...progress })).catch(() => {});
      },
      onSaved: () => {
        this.lifecycle.send({ type: TrainingLifecycleEvent.Trained });
        void Promise.resolve(
          context.onProgress({ stage: TrainingSessionState.Evaluating, message: `extracting a rank-${run.config.loraRank} LoRA adapter` }),
        ).catch(() => {});
      },
    };
  }

  /** Evaluating: the base model and the adapter on the same examples, then the result. */
  private async evaluate(run: PreparedRun, outcome: TrainingOutcome, signal: AbortSignal): Promise<TrainingResult> {
    const { context } = this;
    const { dataset, modelPath, adapterPath } = run;
    const lora = outcome.lora;
    if (lora === undefined) throw new ActorError('TRAINING_FAILED', `the trainer of session ${this.id} returned no LoRA adapter`);
    this.check(signal);
    const onValidation = dataset.validation.length > 0;
    const examples = onValidation ? dataset.validation : dataset.train;
    await context.onProgress({ stage: TrainingSessionState.Evaluating, message: `evaluating the base model and the adapter on ${examples.length} examples` });
    const base = await context.evaluate(examples, [], signal);
    const adapter = await context.evaluate(examples, [{ path: adapterPath }], signal);
    const { outputPath: _outputPath, lora: _lora, ...training } = outcome;
    const { rank, alpha, retainedEnergy, relativeError, uncoveredEnergy, tensors } = lora;
    return {
      ...training,
      sessionId: this.id,
      modelPath,
      adapterPath,
      lora: { rank, alpha, retainedEnergy, relativeError, uncoveredEnergy, tensors },
      durationMs: this.context.clock.now() - this.startedAt,
      evaluation: { examples: onValidation ? 'validation' : 'train', base, adapter },
    };
  }

  private check(signal: AbortSignal): void {
    if (signal.aborted) throw signal.reason instanceof ActorError ? signal.reason : new TrainingStoppedError(this.id);
  }
}

/** What {@link TrainingSession} settles on while preparing, for the stages after. */
interface PreparedRun {
  config: ResolvedTrainingConfig;
  options: TrainingRunOptions;
  dataset: TrainingDataset;
  /** Where the trained GGUF goes. */
  modelPath: string;
  /** Where the LoRA adapter goes. */
  adapterPath: string;
}

/** The trainer's job for a prepared run: the request's options over this backend's defaults. */
function trainerJob(baseModelPath: string, { config, options, dataset, modelPath, adapterPath }: PreparedRun): TrainingJob {
  return {
    baseModelPath,
    outputPath: modelPath,
    train: dataset.train.map((e) => e.tokens),
    validation: dataset.validation.map((e) => e.tokens),
    contextSize: options.contextSize ?? 256,
    epochs: config.epochs,
    learningRate: config.learningRate,
    ...(options.minLearningRate === undefined ? {} : { minLearningRate: options.minLearningRate }),
    ...(options.weightDecay === undefined ? {} : { weightDecay: options.weightDecay }),
    ...(options.trainable === undefined ? {} : { trainable: options.trainable }),
    // As the ModelActor: all cores but one. All of them spin-wait against anything else running (5–8× slower).
    threads: options.threads ?? defaultThreads(),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.shuffle === undefined ? {} : { shuffle: options.shuffle }),
    // Extracted in the trainer process: seconds of SVD must not block this event loop.
    lora: {
      outputPath: adapterPath,
      rank: config.loraRank,
      alpha: config.loraAlpha,
      ...(options.trainable === undefined ? {} : { tensors: options.trainable }),
    },
  };
}

/** Settings valid in the reference API that this backend cannot run. */
function backendConfig(config: ResolvedTrainingConfig): ResolvedTrainingConfig {
  if (config.useQLoRA) {
    throw new NotSupportedByBackendError(
      'useQLoRA',
      `QLoRA (${config.qLoRAConfig?.quantType ?? 'quantized'} base weights) is valid but llama.cpp trains only F32 weights; train an F16 or F32 checkpoint without useQLoRA`,
    );
  }
  if (config.batchSize !== 1) {
    throw new NotSupportedByBackendError(
      'batchSize',
      `batchSize ${config.batchSize}: llama.cpp takes one window per optimizer step; use batchSize 1 (a larger options.contextSize gives each step more tokens)`,
    );
  }
  return config;
}

function isPrepared(dataset: StartTrainingRequest['dataset']): dataset is TrainingDataset {
  return Array.isArray((dataset as TrainingDataset).train) && Array.isArray((dataset as TrainingDataset).validation);
}
