import type { Llama } from 'node-llama-cpp';
import { ModelActor } from '../actors/ModelActor/ModelActor.js';
import type { InferenceProvider } from './InferenceProvider.js';
import { type ModelEntity, ProviderKind } from './types.js';

/** Options of {@link LocalLlamaProvider}. */
export interface LocalLlamaProviderOptions {
  /** One `Llama` shared by every model of this provider. Defaults to each ModelActor making its own. */
  llama?: Llama;
}

/**
 * Runs models in this process with llama.cpp (node-llama-cpp), one {@link ModelActor} per model.
 *
 * @example
 * ```ts
 * const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider()] });
 * ```
 */
export class LocalLlamaProvider implements InferenceProvider {
  readonly kind = ProviderKind.LocalLlama;

  constructor(private readonly options: LocalLlamaProviderOptions = {}) {}

  createModelActor(model: ModelEntity) {
    const actor = new ModelActor({
      modelPath: model.path,
      ...model.load,
      ...(this.options.llama ? { llama: this.options.llama } : {}),
    });
    return { actor, options: actor.actorOptions };
  }
}
