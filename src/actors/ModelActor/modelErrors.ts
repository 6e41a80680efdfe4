import { ModelFileErrorCode } from '../../gguf/modelFileErrors.js';
import { ActorError, ErrorKind } from '../../messaging/errors.js';

// The model-file errors are raised by src/gguf's checks, which may not import the actors: they live
// there and are re-exported here, so this stays the one place the model's errors are found.
export { InvalidModelFileError, ModelFileNotFoundError } from '../../gguf/modelFileErrors.js';

/** Stable codes of the model layer's errors. */
export const ModelErrorCode = {
  ModelFileNotFound: ModelFileErrorCode.ModelFileNotFound,
  InvalidModelFile: ModelFileErrorCode.InvalidModelFile,
  ModelLoadFailed: 'MODEL_LOAD_FAILED',
  ModelNotReady: 'MODEL_NOT_READY',
  QueueFull: 'QUEUE_FULL',
  EmptyPrompt: 'EMPTY_PROMPT',
  PromptTooLong: 'PROMPT_TOO_LONG',
  InvalidParameter: 'INVALID_PARAMETER',
  EmbeddingsDisabled: 'EMBEDDINGS_DISABLED',
  UnsupportedSchema: 'UNSUPPORTED_SCHEMA',
  ModalityNotSupported: 'MODALITY_NOT_SUPPORTED',
} as const;
export type ModelErrorCode = (typeof ModelErrorCode)[keyof typeof ModelErrorCode];

/** llama.cpp could not load the model or create its context. */
export class ModelLoadError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(message: string, options?: { cause?: unknown }) {
    super(ModelErrorCode.ModelLoadFailed, message, options);
  }
}

/** A request came while the model is not loaded (loading, failed or disposed). */
export class ModelNotReadyError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  constructor(state: string) {
    super(ModelErrorCode.ModelNotReady, `model is not ready: it is ${state}`);
  }
}

/** Every slot is busy and the admission queue is at its limit. */
export class QueueFullError extends ActorError {
  override readonly kind = ErrorKind.Overloaded;

  constructor(
    readonly waiting: number,
    readonly limit: number,
    readonly slots: number,
  ) {
    super(ModelErrorCode.QueueFull, `queue full: ${waiting} waiting, limit ${limit} (all ${slots} slots busy)`);
  }
}

/** The prompt has no tokens. */
export class EmptyPromptError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor() {
    super(ModelErrorCode.EmptyPrompt, 'prompt is empty: give a non-empty prompt or at least one message');
  }
}

/** The prompt does not fit in a slot's context. */
export class PromptTooLongError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly promptTokens: number,
    readonly contextSize: number,
    readonly minFreeTokens = 1,
  ) {
    super(
      ModelErrorCode.PromptTooLong,
      `prompt too long: ${promptTokens} tokens, context ${contextSize} (at least ${minFreeTokens} must be left to generate)`,
    );
  }
}

/** A generation parameter is out of range or of the wrong type. */
export class InvalidParameterError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(ModelErrorCode.InvalidParameter, `invalid parameter ${parameter}: ${message}`);
  }
}

/** `embed` was asked of a model started with `embeddings: false`. */
export class EmbeddingsDisabledError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor() {
    super(ModelErrorCode.EmbeddingsDisabled, 'embeddings are disabled for this model (embeddings: false)');
  }
}

/**
 * A JSON schema keyword the grammar would not enforce (`minimum`, `pattern`, ...): refused up front,
 * named with its JSON pointer, rather than silently ignored.
 */
export class UnsupportedSchemaError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly keyword: string,
    readonly pointer: string,
    readonly reason: string,
  ) {
    super(
      ModelErrorCode.UnsupportedSchema,
      `unsupported JSON schema keyword ${keyword} at ${pointer === '' ? 'the root' : pointer}: ${reason}`,
    );
  }
}

/** A message has a part the model cannot take (an image for a model without vision): refused, never dropped. */
export class ModalityNotSupportedError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly model: string,
    readonly modality: string,
    readonly where: string,
    detail = 'it has no vision',
  ) {
    super(ModelErrorCode.ModalityNotSupported, `model ${model} cannot take ${modality} input (${where}): ${detail}`);
  }
}
