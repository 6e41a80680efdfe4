import type { Address } from '../messaging/address.js';
import type { ModelActorOptions } from '../actors/ModelActor/types.js';

/** Store collections that hold entities. */
export const EntityCollection = {
  Providers: 'providers',
  Models: 'models',
  Sessions: 'sessions',
  /**
   * Not entities: one {@link ModelLoadMarker} per model whose load is under way, keyed by model id.
   * Written before a model's actor starts loading and removed once the load has ended either way,
   * so one found by another process marks a load that killed its process.
   */
  ModelLoads: 'model-loads',
} as const;
export type EntityCollection = (typeof EntityCollection)[keyof typeof EntityCollection];

/** Kinds of provider; the seam is {@link InferenceProvider}. */
export const ProviderKind = {
  /** llama.cpp in this process (or a model host of its own), through node-llama-cpp. */
  LocalLlama: 'local-llama',
  /** A remote OpenAI-compatible server: vLLM, llama.cpp's llama-server, Ollama, a hosted API, another llama-actors. */
  OpenAICompatible: 'openai-compatible',
} as const;
export type ProviderKind = (typeof ProviderKind)[keyof typeof ProviderKind];

/** Where inference runs. */
export interface ProviderEntity {
  id: string;
  kind: ProviderKind | (string & {});
  /**
   * Provider-specific settings: none for `local-llama`; {@link RemoteProviderSettings} for
   * `openai-compatible` (its base URL, the *name* of the environment variable holding its key).
   */
  settings?: Record<string, unknown>;
}

/**
 * The settings of an `openai-compatible` provider. They are stored (in the data directory or the
 * NATS bucket), so they hold no secret: the API key is read from the environment variable named by
 * `apiKeyEnv` when a model's actor starts.
 */
export interface RemoteProviderSettings {
  /** The remote's API root, e.g. `http://gpu-box:8000/v1`. */
  baseURL: string;
  /** The name of the environment variable that holds the API key (e.g. `VLLM_API_KEY`). Defaults to none: no key is sent. */
  apiKeyEnv?: string;
  /** Extra headers sent with every request (no `Authorization`: that is `apiKeyEnv`'s). Defaults to none. */
  headers?: Record<string, string>;
  /** How long the remote may take to start answering, and the longest silence mid-stream, in ms. Defaults to `600_000`. */
  timeoutMs?: number;
  /** Retries after a 429, 502/503 or no answer, before anything streamed (a first try with no answer at all is tried once more at once besides). Defaults to `2`. */
  maxRetries?: number;
  /** The longest wait between tries, in ms (a longer `Retry-After` fails at once). Defaults to `10_000`. */
  maxRetryDelayMs?: number;
}

/** How a model of an `openai-compatible` provider is served. */
export interface RemoteModelSpec {
  /** The model's name on the remote. */
  model: string;
  /** Requests in flight upstream at once. Defaults to `4`. */
  maxConcurrent?: number;
  /** Requests that may wait; one more is `QUEUE_FULL`. Defaults to `64`. */
  maxQueue?: number;
  /** Whether it takes images. Defaults to `false`. */
  vision?: boolean;
  /** Its context size in tokens. Defaults to what the remote reports, else `4096`. */
  contextSize?: number;
}

/** How a model's actor is created: everything of {@link ModelActorOptions} that can be stored as JSON. */
export type ModelLoadOptions = Pick<
  ModelActorOptions,
  | 'slots'
  | 'maxQueue'
  | 'contextSize'
  | 'batchSize'
  | 'threads'
  | 'flashAttention'
  | 'gpuLayers'
  | 'engine'
  | 'defaultParams'
  | 'embeddings'
  | 'reuseKvCache'
  | 'adapters'
  | 'maxContexts'
  | 'adapterContextIdleMs'
>;

/**
 * A model: a provider and either a GGUF file with its load options (`local-llama`) or the model's
 * name on a remote (`openai-compatible`). Its actor runs at its own address.
 */
export interface ModelEntity {
  id: string;
  /** The provider's address, e.g. `@(stream-provider)`. */
  provider: Address;
  /** Path of the GGUF file (a local provider's models). */
  path?: string;
  load?: ModelLoadOptions;
  /** The model on the remote (an `openai-compatible` provider's models). */
  remote?: RemoteModelSpec;
}

/**
 * A model load in progress, as `ModelManager` records it in the `model-loads` collection.
 * While one left by another process exists, that model is refused with `MODEL_LOAD_CRASHED` until
 * it is published again.
 */
export interface ModelLoadMarker {
  /** The model's id. */
  model: string;
  /** The loading process's pid, for the message. */
  pid: number;
  /** A random id of the loading process: pids repeat (a container's server is often pid 1 on every start). */
  process: string;
  /** A random id of this load attempt, so a finished attempt never removes a later one's marker. */
  attempt: string;
  /** When the load started, in ms since the epoch. */
  startedAt: number;
  /** The model file as it was then: a file changed since is loaded again. */
  file?: { size: number; mtimeMs: number };
}

export type { OverflowPolicy, SessionEntity, Turn } from '../actors/SessionActor/types.js';
