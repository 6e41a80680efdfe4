import { ActorError, ErrorKind } from '../messaging/errors.js';

/** Stable codes of the entity layer's errors. */
export const EntityErrorCode = {
  EntityNotFound: 'ENTITY_NOT_FOUND',
  EntityExists: 'ENTITY_EXISTS',
  InvalidEntity: 'INVALID_ENTITY',
  ProviderUnsupported: 'PROVIDER_UNSUPPORTED',
  ContextOverflow: 'CONTEXT_OVERFLOW',
  PromptNotFound: 'PROMPT_NOT_FOUND',
  ModelLoadCrashed: 'MODEL_LOAD_CRASHED',
  DataDirLocked: 'DATA_DIR_LOCKED',
} as const;

/** No provider, model or session with that id. */
export class EntityNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(
    readonly collection: string,
    readonly id: string,
  ) {
    super(EntityErrorCode.EntityNotFound, `${collection.replace(/s$/, '')} not found: @(${id})`);
  }
}

/** Creating an entity whose id is taken. */
export class EntityExistsError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly collection: string,
    readonly id: string,
  ) {
    super(EntityErrorCode.EntityExists, `${collection.replace(/s$/, '')} already exists: @(${id})`);
  }
}

/** An entity (or an imported conversation) is malformed. */
export class InvalidEntityError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(message: string) {
    super(EntityErrorCode.InvalidEntity, message);
  }
}

/**
 * No registered provider handles this provider kind: a 400, since the request names a provider kind
 * the server was not configured with (the set is fixed at start-up; asking again will not help).
 */
export class ProviderUnsupportedError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    /** The provider kind asked for (`kind` is the error's {@link ErrorKind}). */
    readonly providerKind: string,
    known: readonly string[],
  ) {
    super(EntityErrorCode.ProviderUnsupported, `no provider for kind ${JSON.stringify(providerKind)}; known: ${known.join(', ') || 'none'}`);
  }
}

// A session's own errors live with the SessionActor (the layer below); re-exported for the API.
export { ContextOverflowError, PromptNotFoundError, SessionConflictError } from '../actors/SessionActor/sessionErrors.js';

/**
 * A previous process died while loading this model (llama.cpp aborts on some malformed files), so
 * it is not loaded again until it is published again: otherwise every restart would crash the same way.
 */
export class ModelLoadCrashedError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly model: string,
    readonly startedAt: number,
    readonly pid: number,
  ) {
    super(
      EntityErrorCode.ModelLoadCrashed,
      `model @(${model}) crashed the process while loading at ${new Date(startedAt).toISOString()} (pid ${pid}); replace the file or publish the model again to retry`,
    );
  }
}

/**
 * Another live process holds the data directory (its lock file names its pid): one process per
 * data directory, since two would overwrite each other's models and sessions.
 */
export class DataDirLockedError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly dataDir: string,
    readonly pid: number,
    readonly lockFile: string,
  ) {
    super(
      EntityErrorCode.DataDirLocked,
      `data directory ${dataDir} is in use by process ${pid} (lock file ${lockFile}); stop it, or pass another --data-dir`,
    );
  }
}
