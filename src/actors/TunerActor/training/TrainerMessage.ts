/**
 * The IPC protocol between {@link TrainerProcess} and its child, `trainerWorker`: the parent sends
 * one `job`; the child answers `started`, then `progress` messages, then exactly one of `done` or
 * `error`, and exits.
 */
import type { LoraExtractionResult } from './extractLora.js';
import type { ResolvedTrainingJob } from './TrainingJob.js';

/** Message types of the trainer protocol. */
export const TrainerMessage = {
  /** Parent → child: the job to run. */
  Job: 'job',
  /** Child → parent: the model is loaded and the data prepared; training begins. */
  Started: 'started',
  /** Child → parent: training progress. */
  Progress: 'progress',
  /** Child → parent: the trained GGUF is in place; a LoRA extraction may follow before `done`. */
  Saved: 'saved',
  /** Child → parent: the trained GGUF is in place. */
  Done: 'done',
  /** Child → parent: the job failed with a typed error. */
  Error: 'error',
} as const;
/** One of {@link TrainerMessage}'s values. */
export type TrainerMessage = (typeof TrainerMessage)[keyof typeof TrainerMessage];

/** What is known once the model is loaded and the data laid out. */
export interface TrainingStartInfo {
  /** The context llama.cpp actually uses (`llama_n_ctx`). */
  contextSize: number;
  batchSize: number;
  microBatchSize: number;
  vocabularySize: number;
  /** Context length of the base model (written back into the trained GGUF when `keepContextLength`). */
  baseContextLength: number;
  trainWindows: number;
  validationWindows: number;
  trainTokens: number;
  validationTokens: number;
  /** Micro-batches per epoch's training pass: the unit of `step` in progress messages. */
  stepsPerEpoch: number;
  /** Tensors marked trainable, by name. */
  trainableTensors: string[];
  /** Selected tensors left out because they are not F32 (llama.cpp's optimizer only updates F32). */
  skippedTensors: string[];
  /** Whether the model was converted from F16 / BF16 to F32 first. */
  convertedToF32: boolean;
}

/** Metrics of one epoch; epoch 0 is the untrained model (validation loss only). */
export interface EpochMetrics {
  epoch: number;
  /** Mean cross-entropy (nats per token) over the epoch's training windows, measured while training; `null` for epoch 0. */
  trainLoss: number | null;
  /** Mean cross-entropy on the validation windows after the epoch; `null` without validation data. */
  validationLoss: number | null;
  learningRate: number;
  /** Training tokens per second of the epoch's training pass (validation excluded); `null` for epoch 0. */
  tokensPerSecond: number | null;
  /** Wall time of the epoch, validation included; for epoch 0, from the start of the run (model load, data layout, first validation). */
  durationMs: number;
}

/** Training progress, at least once per epoch and at most every `progressIntervalMs` within one. */
export interface TrainingProgress {
  /** 1-based epoch being trained. */
  epoch: number;
  epochs: number;
  /** Micro-batches trained in this epoch. */
  step: number;
  /** Micro-batches per epoch. */
  steps: number;
  /** Running mean training loss of this epoch so far. */
  trainLoss: number;
  /** Latest validation loss (of the previous epoch until this one's is measured); `null` without validation data. */
  validationLoss: number | null;
  learningRate: number;
  /** Training tokens per second in this epoch so far. */
  tokensPerSecond: number;
  /** Estimated time to the end of the run, validation passes included. */
  etaMs: number;
  /** True on the message that closes the epoch (its validation loss measured). */
  epochComplete: boolean;
}

/** The result of a training run. */
export interface TrainingOutcome {
  /** The trained GGUF. */
  outputPath: string;
  /** Training loss of the last epoch. */
  trainLoss: number;
  /** Validation loss after the last epoch; `null` without validation data. */
  validationLoss: number | null;
  /** Validation loss of the untrained model; `null` without validation data. */
  initialValidationLoss: number | null;
  /** One entry per epoch, epoch 0 (before training) first. */
  history: EpochMetrics[];
  /** Mean training tokens per second over all epochs (training passes only). */
  tokensPerSecond: number;
  durationMs: number;
  info: TrainingStartInfo;
  /** The adapter extracted after training, when the job asked for one. */
  lora?: LoraExtractionResult;
}

/** Parent → child. */
export interface TrainerJobMessage {
  type: typeof TrainerMessage.Job;
  job: ResolvedTrainingJob;
}

/** Child → parent: {@link TrainerMessage.Started}. */
export interface TrainerStartedMessage extends TrainingStartInfo {
  type: typeof TrainerMessage.Started;
}

/** Child → parent: {@link TrainerMessage.Progress}. */
export interface TrainerProgressMessage extends TrainingProgress {
  type: typeof TrainerMessage.Progress;
}

/** Child → parent: {@link TrainerMessage.Saved}. */
export interface TrainerSavedMessage {
  type: typeof TrainerMessage.Saved;
  outputPath: string;
}

/** Child → parent: {@link TrainerMessage.Done}. */
export interface TrainerDoneMessage extends TrainingOutcome {
  type: typeof TrainerMessage.Done;
}

/** Child → parent: {@link TrainerMessage.Error}. */
export interface TrainerErrorMessage {
  type: typeof TrainerMessage.Error;
  /** A {@link TrainingErrorCode} or another `ActorError` code; `TRAINER_FAILED` for untyped errors. */
  code: string;
  message: string;
}

/** Anything the child sends. */
export type TrainerChildMessage =
  | TrainerStartedMessage
  | TrainerProgressMessage
  | TrainerSavedMessage
  | TrainerDoneMessage
  | TrainerErrorMessage;
