import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Codes of the model host's errors. */
export const ModelHostErrorCode = {
  ModelHostCrashed: 'MODEL_HOST_CRASHED',
  ModelHostStartFailed: 'MODEL_HOST_START_FAILED',
} as const;

/**
 * A model's host process died more often than its restart budget allows (a model file that crashes
 * llama.cpp on every load, a native bug on every request): it is not restarted again, and every
 * request gets this error until the model is published again.
 */
export class ModelHostCrashedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly model: string,
    readonly crashes: number,
    readonly withinMs: number,
    readonly lastExit: string,
  ) {
    super(
      ModelHostErrorCode.ModelHostCrashed,
      `model ${model}: its host process died ${crashes} times within ${withinMs} ms (last: ${lastExit}); not restarted again until the model is published again`,
    );
  }
}

/** A host process did not start answering in time, or could not be spawned. */
export class ModelHostStartError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(model: string, reason: string) {
    super(ModelHostErrorCode.ModelHostStartFailed, `model ${model}: its host process did not start: ${reason}`);
  }
}
