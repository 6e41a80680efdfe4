import { ActorError } from '../messaging/errors.js';

/** Stable codes of the entity layer's errors. */
export const EntityErrorCode = {
  EntityNotFound: 'ENTITY_NOT_FOUND',
  EntityExists: 'ENTITY_EXISTS',
  InvalidEntity: 'INVALID_ENTITY',
  ProviderUnsupported: 'PROVIDER_UNSUPPORTED',
  ContextOverflow: 'CONTEXT_OVERFLOW',
  PromptNotFound: 'PROMPT_NOT_FOUND',
  ModelLoadCrashed: 'MODEL_LOAD_CRASHED',
} as const;

/** No provider, model or session with that id. */
export class EntityNotFoundError extends ActorError {
  constructor(
    readonly collection: string,
    readonly id: string,
  ) {
    super(EntityErrorCode.EntityNotFound, `${collection.replace(/s$/, '')} not found: @(${id})`);
  }
}

/** Creating an entity whose id is taken. */
export class EntityExistsError extends ActorError {
  constructor(
    readonly collection: string,
    readonly id: string,
  ) {
    super(EntityErrorCode.EntityExists, `${collection.replace(/s$/, '')} already exists: @(${id})`);
  }
}

/** An entity (or an imported conversation) is malformed. */
export class InvalidEntityError extends ActorError {
  constructor(message: string) {
    super(EntityErrorCode.InvalidEntity, message);
  }
}

/** No registered provider handles this kind. */
export class ProviderUnsupportedError extends ActorError {
  constructor(
    readonly kind: string,
    known: readonly string[],
  ) {
    super(EntityErrorCode.ProviderUnsupported, `no provider for kind ${JSON.stringify(kind)}; known: ${known.join(', ') || 'none'}`);
  }
}

/** The conversation does not fit in the context and the session's overflow policy is `error`. */
export class ContextOverflowError extends ActorError {
  constructor(
    readonly promptTokens: number,
    readonly contextSize: number,
    detail: string,
  ) {
    super(EntityErrorCode.ContextOverflow, `context overflow: ${promptTokens} tokens, context ${contextSize} (${detail})`);
  }
}

/** `waitForCompletion` was asked about a prompt id this session never had. */
export class PromptNotFoundError extends ActorError {
  constructor(readonly promptId: string) {
    super(EntityErrorCode.PromptNotFound, `no prompt with id ${JSON.stringify(promptId)} in this session`);
  }
}

/**
 * A previous process died while loading this model (llama.cpp aborts on some malformed files), so
 * it is not loaded again until it is published again: otherwise every restart would crash the same way.
 */
export class ModelLoadCrashedError extends ActorError {
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
