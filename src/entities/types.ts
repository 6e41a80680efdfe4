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

/** Kinds of provider. Only `local-llama` exists now; the seam is {@link InferenceProvider}. */
export const ProviderKind = {
  /** llama.cpp in this process, through node-llama-cpp. */
  LocalLlama: 'local-llama',
} as const;
export type ProviderKind = (typeof ProviderKind)[keyof typeof ProviderKind];

/** Where inference runs. */
export interface ProviderEntity {
  id: string;
  kind: ProviderKind | (string & {});
  /** Provider-specific settings (a remote provider would keep its base URL here). */
  settings?: Record<string, unknown>;
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

/** A model: a provider, a GGUF file and its load options. Its actor runs at its own address. */
export interface ModelEntity {
  id: string;
  /** The provider's address, e.g. `@(stream-provider)`. */
  provider: Address;
  /** Path of the GGUF file. */
  path: string;
  load?: ModelLoadOptions;
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
