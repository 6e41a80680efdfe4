import { ActorError, ErrorKind } from '../messaging/errors.js';

/**
 * Codes of the errors about a model file itself, before anything loads it. They are also members of
 * `ModelErrorCode` (src/actors/ModelActor/modelErrors.ts), which takes them from here: the checks
 * that raise them live in this utility layer, below the actors.
 */
export const ModelFileErrorCode = {
  ModelFileNotFound: 'MODEL_FILE_NOT_FOUND',
  InvalidModelFile: 'INVALID_MODEL_FILE',
} as const;
export type ModelFileErrorCode = (typeof ModelFileErrorCode)[keyof typeof ModelFileErrorCode];

/** The GGUF file does not exist. */
export class ModelFileNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(readonly path: string) {
    super(ModelFileErrorCode.ModelFileNotFound, `model file not found: ${path}`);
  }
}

/** The file exists but is not a GGUF model (wrong magic bytes, or llama.cpp refused it). */
export class InvalidModelFileError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(ModelFileErrorCode.InvalidModelFile, `not a GGUF model: ${path} (${reason})`);
  }
}
