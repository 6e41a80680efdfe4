import type { Actor } from '../messaging/Actor.js';
import type { ActorOptions } from '../messaging/types.js';
import type { ModelEntity, ProviderEntity } from './types.js';

/**
 * The seam between entities and inference: a provider turns a {@link ModelEntity} into an actor
 * that answers the `ModelMessage` protocol (`generate`, `embed`, `tokenize`, ...). The local
 * provider makes a `ModelActor`; the OpenAI-compatible provider makes a `RemoteModelActor` that
 * speaks HTTP instead, and nothing above it changes.
 */
export interface InferenceProvider {
  readonly kind: string;
  /**
   * Refuses a provider entity of this kind whose settings are wrong (`INVALID_ENTITY` naming the
   * field), when it is published. Defaults to accepting any settings.
   */
  validateProvider?(entity: ProviderEntity): void;
  /**
   * Refuses a model entity this provider cannot serve (`INVALID_ENTITY` naming the field), when it is
   * published. Defaults to ModelManager's check: a GGUF path and valid load options.
   */
  validateModel?(entity: ModelEntity): void;
  /** Makes the actor that owns `model`, and the router options it needs. */
  createModelActor(model: ModelEntity, provider: ProviderEntity): { actor: Actor; options: ActorOptions };
}
