import type { Address } from '../../messaging/address.js';
import { defineProtocol, Lane } from '../../messaging/protocol.js';

/** Message types of the model directory. */
export const ModelDirectoryMessage = {
  /** The address of a model's running actor, starting (loading) it if it is published but not running. */
  EnsureStarted: 'ensureStarted',
} as const;

/** What the model directory answers. */
export interface ModelDirectoryProtocol {
  [ModelDirectoryMessage.EnsureStarted]: {
    /** A model id, or its address (`@(model/<id>)`). */
    payload: { model: string };
    reply: Address;
  };
}

/**
 * The protocol of the actor that knows the models (kind `model-directory`): how an actor that needs
 * a model, a SessionActor, finds and starts it with a message rather than by calling the manager
 * that owns the models. The entity layer implements it; actors only depend on this declaration.
 */
export const modelDirectoryProtocol = defineProtocol<ModelDirectoryProtocol>('model-directory', {
  [ModelDirectoryMessage.EnsureStarted]: { lane: Lane.Concurrent },
});

/** Where the model directory is registered by default. */
export const MODEL_DIRECTORY_ADDRESS = '@(model-directory/default)' as Address;
