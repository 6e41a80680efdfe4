import { RemoteModelActor } from '../actors/RemoteModel/RemoteModelActor.js';
import { ProviderKeyMissingError } from '../actors/RemoteModel/remoteErrors.js';
import type { RemoteModelOptions } from '../actors/RemoteModel/types.js';
import { InvalidEntityError } from './entityErrors.js';
import type { InferenceProvider } from './InferenceProvider.js';
import { type ModelEntity, type ProviderEntity, ProviderKind, type RemoteModelSpec, type RemoteProviderSettings } from './types.js';

/** Options of {@link OpenAICompatibleProvider}. */
export interface OpenAICompatibleProviderOptions {
  /** Where API keys are read from (`settings.apiKeyEnv` names a variable of it). Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const SETTINGS = new Set(['baseURL', 'apiKeyEnv', 'headers', 'timeoutMs', 'maxRetries', 'maxRetryDelayMs']);
const SPEC = new Set(['model', 'maxConcurrent', 'maxQueue', 'vision', 'contextSize']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Serves models of remote OpenAI-compatible servers (vLLM, llama.cpp's llama-server, Ollama's
 * `/v1`, a hosted API, another llama-actors), one {@link RemoteModelActor} per model, behind the
 * same model protocol as local models. Its settings are stored, so they hold the *name* of the
 * environment variable with the key, never the key: the key is read when a model's actor starts.
 *
 * @example
 * ```ts
 * const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider(), new OpenAICompatibleProvider()] });
 * await models.publishProvider({ id: 'vllm', kind: 'openai-compatible', settings: { baseURL: 'http://gpu:8000/v1', apiKeyEnv: 'VLLM_KEY' } });
 * await models.publishModel({ id: 'qwen', provider: address('vllm'), remote: { model: 'Qwen/Qwen2.5-7B-Instruct', maxConcurrent: 8 } });
 * ```
 */
export class OpenAICompatibleProvider implements InferenceProvider {
  readonly kind = ProviderKind.OpenAICompatible;

  constructor(private readonly options: OpenAICompatibleProviderOptions = {}) {}

  /** Refuses settings that are not {@link RemoteProviderSettings} (`INVALID_ENTITY` naming the field): a key itself above all. */
  validateProvider(entity: ProviderEntity): void {
    const settings = entity.settings;
    const name = `provider @(${entity.id})`;
    if (!settings || typeof settings !== 'object') throw new InvalidEntityError(`${name} needs settings.baseURL (the remote's API root, e.g. http://host:8000/v1)`);
    if ('apiKey' in settings) {
      throw new InvalidEntityError(`${name}: settings.apiKey is refused, keys are never stored; put the key in an environment variable and name it in settings.apiKeyEnv`);
    }
    for (const key of Object.keys(settings)) if (!SETTINGS.has(key)) throw new InvalidEntityError(`${name}: unknown setting ${key} (known: ${[...SETTINGS].join(', ')})`);
    if (typeof settings.baseURL !== 'string' || !/^https?:\/\/[^\s/]+/.test(settings.baseURL)) {
      throw new InvalidEntityError(`${name}: settings.baseURL must be an http:// or https:// URL, got ${JSON.stringify(settings.baseURL)}`);
    }
    if (settings.apiKeyEnv !== undefined && (typeof settings.apiKeyEnv !== 'string' || !ENV_NAME.test(settings.apiKeyEnv))) {
      throw new InvalidEntityError(`${name}: settings.apiKeyEnv must be an environment variable name, got ${JSON.stringify(settings.apiKeyEnv)}`);
    }
    const headers = settings.headers;
    if (headers !== undefined) {
      if (!headers || typeof headers !== 'object' || Array.isArray(headers)) throw new InvalidEntityError(`${name}: settings.headers must be an object of strings`);
      for (const [header, value] of Object.entries(headers)) {
        if (typeof value !== 'string') throw new InvalidEntityError(`${name}: settings.headers.${header} must be a string`);
        if (/^(authorization|api-key|x-api-key)$/i.test(header)) throw new InvalidEntityError(`${name}: settings.headers.${header} would store a credential; use settings.apiKeyEnv`);
      }
    }
    for (const field of ['timeoutMs', 'maxRetries', 'maxRetryDelayMs'] as const) {
      const value = settings[field];
      const min = field === 'timeoutMs' ? 1 : 0;
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < min)) throw new InvalidEntityError(`${name}: settings.${field} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    }
  }

  /** Refuses a model that is not a {@link RemoteModelSpec} (a GGUF path or load options mean a local model). */
  validateModel(entity: ModelEntity): void {
    const name = `model @(${entity.id})`;
    if (entity.path !== undefined || entity.load !== undefined) throw new InvalidEntityError(`${name}: an openai-compatible provider's model has no path or load options, only remote`);
    const spec = entity.remote;
    if (!spec || typeof spec !== 'object') throw new InvalidEntityError(`${name} needs remote.model: the model's name on the remote`);
    for (const key of Object.keys(spec)) if (!SPEC.has(key)) throw new InvalidEntityError(`${name}: unknown field remote.${key} (known: ${[...SPEC].join(', ')})`);
    if (typeof spec.model !== 'string' || spec.model.length === 0) throw new InvalidEntityError(`${name}: remote.model must be a non-empty string`);
    for (const field of ['maxConcurrent', 'maxQueue', 'contextSize'] as const) {
      const value = spec[field];
      const min = field === 'maxQueue' ? 0 : 1;
      if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new InvalidEntityError(`${name}: remote.${field} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    }
    if (spec.vision !== undefined && typeof spec.vision !== 'boolean') throw new InvalidEntityError(`${name}: remote.vision must be true or false`);
  }

  createModelActor(model: ModelEntity, provider: ProviderEntity) {
    const settings = (provider.settings ?? {}) as Partial<RemoteProviderSettings> as RemoteProviderSettings;
    const spec = model.remote as RemoteModelSpec;
    const env = this.options.env ?? process.env;
    let apiKey: string | undefined;
    if (settings.apiKeyEnv !== undefined) {
      apiKey = env[settings.apiKeyEnv];
      if (apiKey === undefined || apiKey === '') throw new ProviderKeyMissingError(provider.id, settings.apiKeyEnv);
    }
    const options: RemoteModelOptions = {
      baseURL: settings.baseURL,
      model: spec.model,
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(settings.headers ? { headers: settings.headers } : {}),
      ...(settings.timeoutMs === undefined ? {} : { timeoutMs: settings.timeoutMs }),
      ...(settings.maxRetries === undefined ? {} : { maxRetries: settings.maxRetries }),
      ...(settings.maxRetryDelayMs === undefined ? {} : { maxRetryDelayMs: settings.maxRetryDelayMs }),
      ...(spec.maxConcurrent === undefined ? {} : { maxConcurrent: spec.maxConcurrent }),
      ...(spec.maxQueue === undefined ? {} : { maxQueue: spec.maxQueue }),
      ...(spec.vision === undefined ? {} : { vision: spec.vision }),
      ...(spec.contextSize === undefined ? {} : { contextSize: spec.contextSize }),
    };
    const actor = new RemoteModelActor(options);
    return { actor, options: actor.actorOptions };
  }
}
