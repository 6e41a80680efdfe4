import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Stable codes of the tuner's errors. */
export const TunerErrorCode = {
  InvalidTrainingData: 'INVALID_TRAINING_DATA',
  InvalidLoraRank: 'INVALID_LORA_RANK',
  InvalidLearningRate: 'INVALID_LEARNING_RATE',
  InvalidEpochs: 'INVALID_EPOCHS',
  InvalidBatchSize: 'INVALID_BATCH_SIZE',
  InvalidTrainingConfig: 'INVALID_TRAINING_CONFIG',
} as const;
export type TunerErrorCode = (typeof TunerErrorCode)[keyof typeof TunerErrorCode];

/** Why a training example was refused. */
export type TrainingDataProblem =
  | 'empty-dataset'
  | 'not-a-conversation'
  | 'empty-conversation'
  | 'unknown-role'
  | 'invalid-content'
  | 'no-assistant-turn'
  | 'duplicate-id'
  | 'no-examples-fit';

/** A training example is unusable; the message names the example (index and id) and what is wrong. */
export class InvalidTrainingDataError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly problem: TrainingDataProblem,
    message: string,
    /** Index of the example in the input, when one example is at fault. */
    readonly example?: number,
    readonly exampleId?: string,
  ) {
    super(TunerErrorCode.InvalidTrainingData, message);
  }
}

/** The LoRA rank is not an integer in range. */
export class InvalidLoraRankError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly rank: unknown,
    min: number,
    max: number,
  ) {
    super(TunerErrorCode.InvalidLoraRank, `invalid LoRA rank: ${String(rank)} (must be an integer from ${min} to ${max})`);
  }
}

/** The learning rate is not a number in range. */
export class InvalidLearningRateError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly rate: unknown,
    max: number,
  ) {
    super(TunerErrorCode.InvalidLearningRate, `invalid learning rate: ${String(rate)} (must be a number above 0 and at most ${max})`);
  }
}

/** The number of epochs is not an integer in range. */
export class InvalidEpochsError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly epochs: unknown,
    max: number,
  ) {
    super(TunerErrorCode.InvalidEpochs, `invalid epochs: ${String(epochs)} (must be an integer from 1 to ${max})`);
  }
}

/** The batch size is not an integer in range. */
export class InvalidBatchSizeError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly batchSize: unknown,
    max: number,
  ) {
    super(TunerErrorCode.InvalidBatchSize, `invalid batch size: ${String(batchSize)} (must be an integer from 1 to ${max})`);
  }
}

/** Any other training setting (alpha, QLoRA settings, unknown names) is wrong. */
export class InvalidTrainingConfigError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(TunerErrorCode.InvalidTrainingConfig, `invalid training config: ${message}`);
  }
}

/** Stable codes of the training-session errors. */
export const TrainingSessionErrorCode = {
  NotSupportedByBackend: 'NOT_SUPPORTED_BY_BACKEND',
  TrainingSessionNotFound: 'TRAINING_SESSION_NOT_FOUND',
  TrainingInProgress: 'TRAINING_IN_PROGRESS',
  TrainingStopped: 'TRAINING_STOPPED',
} as const;

/** A valid setting the llama.cpp training backend cannot honour (QLoRA, several windows per step). */
export class NotSupportedByBackendError extends ActorError {
  override readonly kind = ErrorKind.NotImplemented;

  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(TrainingSessionErrorCode.NotSupportedByBackend, `${message}: not supported by the llama.cpp backend`);
  }
}

/** `stopTraining`, `getTrainingStatus` or `getTrainingMetrics` with no training session (the reference's `trainingSessionNotFound`). */
export class TrainingSessionNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(detail = 'no training session has been started on this tuner') {
    super(TrainingSessionErrorCode.TrainingSessionNotFound, `training session not found: ${detail}`);
  }
}

/** `startTraining` while another session of this tuner is running. */
export class TrainingInProgressError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly sessionId: string,
    state: string,
  ) {
    super(TrainingSessionErrorCode.TrainingInProgress, `training session ${sessionId} is ${state}; stop it or wait for it first`);
  }
}

/** How a stopped training session's `startTraining` ends. */
export class TrainingStoppedError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(readonly sessionId: string) {
    super(TrainingSessionErrorCode.TrainingStopped, `training session ${sessionId} was stopped`);
  }
}
