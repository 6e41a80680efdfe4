import type { Actor } from '../messaging/Actor.js';
import type { ActorOptions } from '../messaging/types.js';
import type { ModelEntity, ProviderEntity } from './types.js';

/**
 * The seam between entities and inference: a provider turns a {@link ModelEntity} into an actor
 * that answers the `ModelMessage` protocol (`generate`, `embed`, `tokenize`, ...). The local
 * provider makes a `ModelActor`; a remote OpenAI-compatible provider would make an actor that
 * speaks HTTP instead, and nothing above it would change.
 */
export interface InferenceProvider {
  readonly kind: string;
  /** Makes the actor that owns `model`, and the router options it needs. */
  createModelActor(model: ModelEntity, provider: ProviderEntity): { actor: Actor; options: ActorOptions };
}
