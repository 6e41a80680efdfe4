import type { Llama } from 'node-llama-cpp';
import { ModelActor } from '../actors/ModelActor/ModelActor.js';
import { ModelHostActor } from '../actors/ModelHost/ModelHostActor.js';
import { ModelIsolation, type ModelHostOptions } from '../actors/ModelHost/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { InvalidEntityError } from './entityErrors.js';
import type { InferenceProvider } from './InferenceProvider.js';
import { type ModelEntity, ProviderKind } from './types.js';
import { validateLoadOptions } from './validateLoadOptions.js';

/** Options of {@link LocalLlamaProvider}. */
export interface LocalLlamaProviderOptions {
  /**
   * Where each model runs. `'in-process'`: a ModelActor in this process (the fastest to start; a
   * native crash in llama.cpp ends this process). `'process'`: a ModelActor in a supervised child
   * process of its own, a model host, under the same address and protocol: a crash costs that
   * model's in-flight requests, and the host is restarted (see ModelHostActor). Defaults to
   * `'in-process'` (`llama-actors serve` and `chat` default to `'process'`).
   */
  isolation?: ModelIsolation;
  /**
   * One `Llama` shared by every model of this provider (in-process only: a `Llama` cannot cross a
   * process boundary; each host makes its own). Defaults to each ModelActor making its own.
   */
  llama?: Llama;
  /** Settings of the model hosts (`isolation: 'process'`): grace period, heartbeats, environment, log level. Defaults to ModelHostActor's. */
  host?: Omit<ModelHostOptions, 'model'>;
}

/**
 * Runs models with llama.cpp (node-llama-cpp), one ModelActor per model: in this process, or each in
 * a supervised host process of its own (`isolation: 'process'`).
 *
 * @example
 * ```ts
 * // A native crash of one model costs its requests, not the process.
 * const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ isolation: 'process' })] });
 * ```
 */
export class LocalLlamaProvider implements InferenceProvider {
  readonly kind = ProviderKind.LocalLlama;
  /** Where this provider's models run. */
  readonly isolation: ModelIsolation;

  constructor(private readonly options: LocalLlamaProviderOptions = {}) {
    const isolation = options.isolation ?? ModelIsolation.InProcess;
    if (isolation !== ModelIsolation.InProcess && isolation !== ModelIsolation.Process) {
      throw new InvalidArgumentError(`isolation must be in-process or process, got ${JSON.stringify(isolation)}`);
    }
    if (isolation === ModelIsolation.Process && options.llama) {
      throw new InvalidArgumentError('isolation process cannot use a Llama of this process: each model host makes its own (pass no llama)');
    }
    this.isolation = isolation;
  }

  /** A local model needs a GGUF path and valid load options; `remote` belongs to remote providers. */
  validateModel(entity: ModelEntity): void {
    if (typeof entity.path !== 'string' || entity.path.length === 0) throw new InvalidEntityError(`model @(${entity.id}) needs a path to a GGUF file`);
    if (entity.remote !== undefined) throw new InvalidEntityError(`model @(${entity.id}): remote is for openai-compatible providers, this one is local-llama`);
    if (entity.load !== undefined) validateLoadOptions(entity.load);
  }

  createModelActor(model: ModelEntity) {
    const modelPath = model.path;
    if (modelPath === undefined) throw new InvalidEntityError(`model @(${model.id}) needs a path to a GGUF file`);
    if (this.isolation === ModelIsolation.Process) {
      const actor = new ModelHostActor({ ...this.options.host, model: { modelPath, ...model.load } });
      return { actor, options: actor.actorOptions };
    }
    const actor = new ModelActor({
      modelPath,
      ...model.load,
      ...(this.options.llama ? { llama: this.options.llama } : {}),
    });
    return { actor, options: actor.actorOptions };
  }
}
