/**
 * Typed errors of the llama.cpp training backend. Codes are stable; messages name the numbers
 * involved, so a log line is enough to fix the job.
 */
import { ActorError, ErrorCode, ErrorKind } from '../../../messaging/errors.js';

/** Stable codes of the training backend's errors. */
export const TrainingErrorCode = {
  InvalidTrainingJob: 'INVALID_TRAINING_JOB',
  QuantizedBaseModel: 'QUANTIZED_BASE_MODEL',
  NotEnoughTokens: 'NOT_ENOUGH_TOKENS',
  TokenOutOfVocabulary: 'TOKEN_OUT_OF_VOCABULARY',
  NoTrainableTensors: 'NO_TRAINABLE_TENSORS',
  TrainerCrashed: 'TRAINER_CRASHED',
  TrainerFailed: 'TRAINER_FAILED',
  TrainerBusy: 'TRAINER_BUSY',
  NativeLibraryNotFound: 'NATIVE_LIBRARY_NOT_FOUND',
  ModelLoadFailed: 'MODEL_LOAD_FAILED',
  LoraExtractionFailed: 'LORA_EXTRACTION_FAILED',
} as const;
/** One of {@link TrainingErrorCode}'s values. */
export type TrainingErrorCode = (typeof TrainingErrorCode)[keyof typeof TrainingErrorCode];

/** A job setting is missing, out of range, or inconsistent with another (e.g. context vs batch). */
export class InvalidTrainingJobError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    /** The job field at fault, e.g. `contextSize`. */
    readonly field: string,
    message: string,
  ) {
    super(TrainingErrorCode.InvalidTrainingJob, `invalid training job: ${message}`);
  }
}

/** The base model has tensors the llama.cpp backend cannot train (anything but F32, F16, BF16). */
export class QuantizedBaseModelError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly modelPath: string,
    /** Tensor types found that cannot be trained, e.g. `['Q4_K', 'Q6_K']`. */
    readonly types: readonly string[],
    /** One tensor of such a type. */
    readonly exampleTensor: string,
  ) {
    super(
      TrainingErrorCode.QuantizedBaseModel,
      `${modelPath} has ${types.join(', ')} tensors (e.g. ${exampleTensor}): quantized models cannot be trained by the llama.cpp backend; use an F16 or F32 checkpoint`,
    );
  }
}

/** A token stream is too short to fill one training window of `contextSize + 1` tokens. */
export class NotEnoughTokensError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    /** `train` or `validation`. */
    readonly split: 'train' | 'validation',
    readonly tokens: number,
    readonly contextSize: number,
  ) {
    super(
      TrainingErrorCode.NotEnoughTokens,
      `not enough ${split} tokens for one training window: ${tokens} tokens, need at least ${contextSize + 1} (context ${contextSize} + 1 for the last label)`,
    );
  }
}

/** A token id is not below the model's vocabulary size (llama.cpp would abort on the label). */
export class TokenOutOfVocabularyError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly split: 'train' | 'validation',
    /** Index of the sequence in its split. */
    readonly sequence: number,
    readonly position: number,
    readonly token: number,
    readonly vocabularySize: number,
  ) {
    super(
      TrainingErrorCode.TokenOutOfVocabulary,
      `${split} sequence ${sequence} has token ${token} at position ${position}, outside the vocabulary of ${vocabularySize} tokens`,
    );
  }
}

/** The `trainable` filter selects no tensor of the model. */
export class NoTrainableTensorsError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly filter: string,
    readonly tensorCount: number,
  ) {
    super(
      TrainingErrorCode.NoTrainableTensors,
      `the trainable filter ${filter} selects none of the model's ${tensorCount} tensors (token_embd is never trained by llama.cpp)`,
    );
  }
}

const MESSAGE_STDERR_LINES = 8;

/** The trainer process died without reporting a result: a native abort (`GGML_ASSERT`), a kill, or out of memory. */
export class TrainerCrashedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    /** The last lines the trainer wrote to stderr. */
    readonly stderrTail: readonly string[],
  ) {
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(exitCode)}`;
    // The message carries the last few lines (a GGML_ASSERT's file, line and condition); all of them are in stderrTail.
    const shown = stderrTail.slice(-MESSAGE_STDERR_LINES);
    const tail = shown.length > 0 ? `; last stderr lines:\n${shown.join('\n')}` : '';
    super(TrainingErrorCode.TrainerCrashed, `trainer process ${how} before finishing${tail}`);
  }
}

/**
 * The trainer process reported a failure: the code it sent (one of {@link TrainingErrorCode}, e.g.
 * `MODEL_LOAD_FAILED`) is this error's code.
 */
export class TrainerFailedError extends ActorError {
  /** The kind of the error the trainer threw: see {@link reportedKind}. */
  override readonly kind: ErrorKind;

  /** @param kind The kind the trainer reported with the code, if it did; otherwise the code's. */
  constructor(code: string, message: string, kind?: ErrorKind) {
    super(code === '' ? TrainingErrorCode.TrainerFailed : code, message);
    this.kind = kind ?? reportedKind(this.code);
  }
}

/**
 * The kind of each code the trainer process can report, so that an error thrown in the child keeps
 * its HTTP status in the parent: the child sends only `{code, message}`. Typed over every
 * {@link TrainingErrorCode}, so a new code does not compile without one; it must agree with its
 * class's `kind` (the error-kind test checks that).
 */
const REPORTED_KIND: Readonly<Record<TrainingErrorCode, ErrorKind>> = {
  [TrainingErrorCode.InvalidTrainingJob]: ErrorKind.Invalid,
  [TrainingErrorCode.QuantizedBaseModel]: ErrorKind.Invalid,
  [TrainingErrorCode.NotEnoughTokens]: ErrorKind.Invalid,
  [TrainingErrorCode.TokenOutOfVocabulary]: ErrorKind.Invalid,
  [TrainingErrorCode.NoTrainableTensors]: ErrorKind.Invalid,
  [TrainingErrorCode.TrainerCrashed]: ErrorKind.Internal,
  [TrainingErrorCode.TrainerFailed]: ErrorKind.Internal,
  [TrainingErrorCode.TrainerBusy]: ErrorKind.Conflict,
  [TrainingErrorCode.NativeLibraryNotFound]: ErrorKind.Internal,
  [TrainingErrorCode.ModelLoadFailed]: ErrorKind.Internal,
  [TrainingErrorCode.LoraExtractionFailed]: ErrorKind.Internal,
};

/** The kind of a code the trainer reported: {@link REPORTED_KIND}'s, `cancelled` for `ABORTED`, else `internal`. */
function reportedKind(code: string): ErrorKind {
  if (code === ErrorCode.Aborted) return ErrorKind.Cancelled;
  return Object.hasOwn(REPORTED_KIND, code) ? REPORTED_KIND[code as TrainingErrorCode] : ErrorKind.Internal;
}

/** A {@link TrainerProcess} was asked to run a second job while one is running. */
export class TrainerBusyError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(readonly pid: number | undefined) {
    super(TrainingErrorCode.TrainerBusy, `a training job is already running (trainer pid ${String(pid)})`);
  }
}

/** node-llama-cpp's prebuilt llama.cpp libraries (or the symbols the trainer needs) cannot be found or loaded. */
export class NativeLibraryNotFoundError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(detail: string, options?: { cause?: unknown }) {
    super(TrainingErrorCode.NativeLibraryNotFound, `llama.cpp native library not found: ${detail}`, options);
  }
}

/** llama.cpp could not load the base model or create a training context for it. */
export class ModelLoadFailedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly modelPath: string,
    detail: string,
  ) {
    super(TrainingErrorCode.ModelLoadFailed, `llama.cpp could not load ${modelPath} for training: ${detail}`);
  }
}

/** A LoRA adapter cannot be extracted from this pair of models, or with these settings. */
export class LoraExtractionError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(message: string) {
    super(TrainingErrorCode.LoraExtractionFailed, `LoRA extraction failed: ${message}`);
  }
}
