import type { Logger } from 'pino';
import type {
  ChatMessage,
  GenerateRequest,
  GenerateResult,
  GenerationParams,
  GenerationUsage,
} from '../actors/ModelActor/types.js';
import { type ModelProtocol, modelProtocol } from '../actors/ModelActor/modelProtocol.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { MODEL_DIRECTORY_ADDRESS } from '../actors/ModelDirectory/modelDirectoryProtocol.js';
import { TunerActor } from '../actors/TunerActor/TunerActor.js';
import type { ActorRef } from '../messaging/ActorRef.js';
import { type Address, address, parseAddress } from '../messaging/address.js';
import { AbortedError, ActorAlreadyRegisteredError, InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import type { TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { ActorKind, entityName, kindAddress } from './actorNames.js';
import { ModelDirectoryActor } from './ModelDirectoryActor.js';
import { EntityExistsError, EntityNotFoundError, InvalidEntityError, ProviderUnsupportedError } from './entityErrors.js';
import type { InferenceProvider } from './InferenceProvider.js';
import { LocalLlamaProvider } from './LocalLlamaProvider.js';
import type { Store } from './store/Store.js';
import { isDamagedValueError } from './store/storeErrors.js';
import { ModelLoadMarkers } from './ModelLoadMarkers.js';
import { EntityCollection, type ModelEntity, type ProviderEntity } from './types.js';
import { validateLoadOptions } from './validateLoadOptions.js';

/** Options of {@link ModelManager}. */
export interface ModelManagerOptions {
  router: MessageRouter;
  store: Store;
  /** Providers by kind. Defaults to one {@link LocalLlamaProvider}. */
  providers?: InferenceProvider[];
  /** Defaults to the router's logger. */
  logger?: Logger;
}

/** Options of {@link ModelManager.invokeModel}, the seed's `invokeModel` call. */
export interface InvokeModelOptions {
  /** A single user message. Exactly one of `message` and `messages`. */
  message?: string;
  /** A whole conversation. */
  messages?: ChatMessage[];
  /** A system prompt put before the messages. */
  system?: string;
  params?: GenerationParams;
  /** Stream tokens to `onToken` as they come. Defaults to `false`. */
  stream?: boolean;
  /** Receives each token's text (and its event) when `stream` is true. Awaited: backpressure. */
  onToken?: (text: string, event: TokenStreamEvent<{ usage: GenerationUsage }>) => void | Promise<void>;
  signal?: AbortSignal;
  /** Milliseconds for the whole call. Defaults to `Infinity` (the router's `streamTimeout`). */
  timeout?: number;
  /** KV-cache affinity key (a session id). */
  session?: string;
}

/**
 * Publishes providers and models as entities, starts each model's actor on first use (at the
 * model's own address), and invokes models.
 *
 * @example
 * ```ts
 * const models = new ModelManager({ router, store });
 * await models.publishProvider({ id: 'stream-provider', kind: 'local-llama' });
 * await models.publishModel({ id: 'stream-model', provider: address('stream-provider'), path: 'models/demo.gguf' });
 * const { text } = await models.invokeModel('stream-model', { message: 'Hello', params: { maxTokens: 20 } });
 * ```
 */
export class ModelManager {
  private readonly router: MessageRouter;
  private readonly store: Store;
  private readonly providers: Map<string, InferenceProvider>;
  private readonly logger: Logger;
  private readonly starting = new Map<string, Promise<Address>>();
  /** Creations and deletions of a model id, one at a time (a check, then a write). */
  private readonly changing = new Map<string, Promise<unknown>>();

  /** The load markers of its models: a load that killed an earlier process is not retried. */
  private readonly loads: ModelLoadMarkers;

  constructor(options: ModelManagerOptions) {
    this.router = options.router;
    this.store = options.store;
    this.providers = new Map((options.providers ?? [new LocalLlamaProvider()]).map((p) => [p.kind, p]));
    this.logger = options.logger ?? options.router.logger;
    this.loads = new ModelLoadMarkers(this.store, this.router, this.logger);
    // Actors find models by message (a SessionActor asks for its model's address); one directory a router.
    if (!this.router.has(MODEL_DIRECTORY_ADDRESS)) {
      this.router.registerActor(
        MODEL_DIRECTORY_ADDRESS,
        new ModelDirectoryActor((model, { signal }) => this.ensureStarted(model, { signal })),
      );
    }
  }

  /** Stores a provider entity; its address is `@(id)`. */
  async publishProvider(entity: ProviderEntity, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = parseAddress(entity?.id);
    const provider = this.providers.get(entity.kind);
    if (!provider) throw new ProviderUnsupportedError(entity.kind, [...this.providers.keys()]);
    provider.validateProvider?.({ ...entity, id });
    await this.store.put(EntityCollection.Providers, id, { ...entity, id }, options);
    return address(id);
  }

  /**
   * {@link publishProvider}, but only for a new id: an existing provider is `ENTITY_EXISTS` (409) and
   * stays as it was. What `POST /providers` calls.
   */
  async createProvider(entity: ProviderEntity, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = parseAddress(entity?.id);
    return this.oneAtATime(`provider:${id}`, async () => {
      if (await this.store.get(EntityCollection.Providers, id, options)) throw new EntityExistsError(EntityCollection.Providers, id);
      return this.publishProvider(entity, options);
    });
  }

  /** Every stored provider entity (their settings hold no secrets: keys are named, not stored). */
  async listProviders(options: { signal?: AbortSignal } = {}): Promise<ProviderEntity[]> {
    const ids = await this.store.list(EntityCollection.Providers, options);
    const entities = await Promise.all(ids.map((id) => this.store.get<ProviderEntity>(EntityCollection.Providers, id, options)));
    return entities.filter((e): e is ProviderEntity => e !== undefined);
  }

  /**
   * Stores a model entity after checking its load options (`INVALID_ENTITY` naming the field) and
   * that its provider exists; its actor's address is `@(model/<id>)`. Publishing is also how a model whose load
   * crashed an earlier process is cleared to be loaded again (see {@link ensureStarted}).
   *
   * An existing entity of that id is replaced (the CLI republishes its model when its flags change),
   * but an actor already running keeps the model it loaded until {@link stopModel}. To refuse an
   * existing id instead (what `POST /models` does), use {@link createModel}.
   */
  async publishModel(entity: ModelEntity, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = entityName(ActorKind.Model, entity?.id);
    const providerId = parseAddress(entity.provider);
    const providerEntity = await this.store.get<ProviderEntity>(EntityCollection.Providers, providerId, options);
    const provider = providerEntity ? this.providers.get(providerEntity.kind) : undefined;
    if (provider?.validateModel) {
      provider.validateModel({ ...entity, id });
    } else {
      if (typeof entity.path !== 'string' || entity.path.length === 0) {
        throw new InvalidEntityError(`model @(${id}) needs a path to a GGUF file`);
      }
      if (entity.load !== undefined) validateLoadOptions(entity.load);
    }
    if (!providerEntity) throw new EntityNotFoundError(EntityCollection.Providers, providerId);
    await this.store.put(EntityCollection.Models, id, { ...entity, id, provider: address(providerId) }, options);
    // A marker of this process is a load still under way here, not a crash: it stays.
    await this.loads.clearCrashed(id, options);
    return kindAddress(ActorKind.Model, id);
  }

  /**
   * {@link publishModel}, but only for a new id: an existing model is `ENTITY_EXISTS` (409), its
   * stored entity and its running actor untouched. What `POST /models` calls.
   */
  async createModel(entity: ModelEntity, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = entityName(ActorKind.Model, entity?.id);
    return this.oneAtATime(id, async () => {
      if (await this.store.get(EntityCollection.Models, id, options)) throw new EntityExistsError(EntityCollection.Models, id);
      return this.publishModel(entity, options);
    });
  }

  /**
   * Unloads and forgets a model: deletes its stored entity (so nothing starts it again), then stops
   * its tuner and its actor ({@link stopModel}: generations in flight end with `ACTOR_STOPPED`,
   * queued requests too, and the model is freed). A session naming it gets `ENTITY_NOT_FOUND` on
   * its next turn. `ENTITY_NOT_FOUND` for an unknown id.
   */
  async deleteModel(model: string | Address, options: { signal?: AbortSignal } = {}): Promise<void> {
    const id = entityName(ActorKind.Model, model);
    await this.oneAtATime(id, async () => {
      const existed = await this.store.delete(EntityCollection.Models, id, options);
      if (!existed && !this.running(id)) throw new EntityNotFoundError(EntityCollection.Models, id);
      // A start under way may register the actor after a first stop: wait for it, stop again.
      await this.stopModel(id);
      await this.starting.get(id)?.catch(() => undefined);
      await this.stopModel(id);
      await this.store.delete(EntityCollection.ModelLoads, id);
      this.logger.info({ model: id }, 'model deleted');
    });
  }

  /** Runs `task` once every earlier creation or deletion of `id` has ended. */
  private async oneAtATime<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.changing.get(id) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(task);
    const settled = current.catch(() => undefined);
    this.changing.set(id, settled);
    void settled.then(() => {
      if (this.changing.get(id) === settled) this.changing.delete(id);
    });
    return current;
  }

  /** The stored model entity (`model` is its id or its address). */
  async getModel(model: string | Address, options: { signal?: AbortSignal } = {}): Promise<ModelEntity> {
    const id = entityName(ActorKind.Model, model);
    const entity = await this.store.get<ModelEntity>(EntityCollection.Models, id, options);
    if (!entity) throw new EntityNotFoundError(EntityCollection.Models, id);
    return entity;
  }

  /**
   * Every stored model entity. One the store cannot read (`STORE_CORRUPT`, `STORE_IO_ERROR`) or
   * that is not a model (no path) is skipped and logged at warn: one damaged file must not take
   * `/v1/models`, `/health` and the metrics down with it.
   */
  async listModels(options: { signal?: AbortSignal } = {}): Promise<ModelEntity[]> {
    const ids = await this.store.list(EntityCollection.Models, options);
    const models = await Promise.all(
      ids.map(async (id) => {
        try {
          const model = await this.store.get<ModelEntity>(EntityCollection.Models, id, options);
          if (model === undefined || (typeof model === 'object' && model !== null && (typeof model.path === 'string' || typeof model.remote === 'object'))) return model;
          this.logger.warn({ model: id }, 'skipping a stored model that is not a model entity');
        } catch (error) {
          if (!isDamagedValueError(error)) throw error;
          this.logger.warn({ err: error, model: id }, 'skipping a stored model the store cannot read');
        }
        return undefined;
      }),
    );
    return models.filter((m): m is ModelEntity => m !== undefined);
  }

  /**
   * Starts the model's actor if it is not running (concurrent callers share one start) and returns
   * its address. The model loads in the background; requests wait for it.
   *
   * A load is recorded in the store (a {@link ModelLoadMarker} in `model-loads`) before it starts
   * and removed when it ends, loaded or failed: a marker another process left means that process
   * died loading the model, and the model is refused with `MODEL_LOAD_CRASHED` until it is
   * published again, rather than crash every restart the same way.
   */
  async ensureStarted(model: string | Address, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = entityName(ActorKind.Model, model);
    const self = kindAddress(ActorKind.Model, id);
    if (this.router.has(self)) return self;
    let starting = this.starting.get(id);
    if (!starting) {
      starting = this.start(id, options.signal).finally(() => this.starting.delete(id));
      this.starting.set(id, starting);
    }
    return starting;
  }

  private async start(id: string, signal: AbortSignal | undefined): Promise<Address> {
    const model = await this.getModel(id, signal ? { signal } : {});
    const providerId = parseAddress(model.provider);
    const providerEntity = await this.store.get<ProviderEntity>(EntityCollection.Providers, providerId);
    if (!providerEntity) throw new EntityNotFoundError(EntityCollection.Providers, providerId);
    const provider = this.providers.get(providerEntity.kind);
    if (!provider) throw new ProviderUnsupportedError(providerEntity.kind, [...this.providers.keys()]);
    if (signal?.aborted) throw new AbortedError('starting a model', { cause: signal.reason });
    const self = kindAddress(ActorKind.Model, id);
    if (this.router.has(self)) return self;
    const { actor, options } = provider.createModelActor(model, providerEntity);
    // A model without a file (a remote one) has no load that could crash this process: no marker.
    if (model.path === undefined) return this.router.registerActor(self, actor, options);
    const marker = await this.loads.beginLoad(id, model.path);
    this.logger.info({ model: id, path: model.path, provider: providerEntity.kind }, 'starting model actor');
    let registered: Address;
    try {
      registered = this.router.registerActor(self, actor, options);
    } catch (error) {
      await this.loads.endLoad(marker);
      throw error;
    }
    this.loads.watchLoad(registered, marker);
    return registered;
  }

  /**
   * Resolves once the model's load has ended and its load marker is cleared: after it a process that
   * dies is not taken for one that died loading (a `serve` killed right after its banner would
   * otherwise leave the marker, and the next start refuse the model with `MODEL_LOAD_CRASHED`).
   */
  async loadSettled(model: string | Address): Promise<void> {
    await this.loads.loadSettled(entityName(ActorKind.Model, model));
  }

  /**
   * A typed ref on the model's actor, started if it is not running.
   *
   * @example
   * ```ts
   * const model = await models.ref('demo');
   * const { contextSize } = await model.ask(ModelMessage.Info, null);
   * ```
   */
  async ref(model: string | Address, options: { signal?: AbortSignal } = {}): Promise<ActorRef<ModelProtocol>> {
    return this.router.ref(await this.ensureStarted(model, options), modelProtocol);
  }

  /** A ref on the model's actor if it is running now (nothing is started), else `undefined`. */
  running(model: string | Address): ActorRef<ModelProtocol> | undefined {
    const self = kindAddress(ActorKind.Model, entityName(ActorKind.Model, model));
    return this.router.has(self) ? this.router.ref(self, modelProtocol) : undefined;
  }

  /**
   * Opens a generation on a model, started if needed: the one path `invokeModel`, the HTTP server
   * and the CLI share. Wrapped in an object: a stream is awaitable, so an async function returning it
   * bare would resolve to its result.
   */
  async openGeneration(
    model: string | Address,
    request: GenerateRequest,
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<{ stream: GenerationStream<ModelProtocol[typeof ModelMessage.Generate]['stream']> }> {
    const ref = await this.ref(model, options.signal ? { signal: options.signal } : {});
    return { stream: ref.stream(ModelMessage.Generate, request, options) };
  }

  /**
   * Starts the model (if needed) and its {@link TunerActor} (if needed), at `@(tuner/<model id>)`,
   * and returns the tuner's address: adapters, training data and evaluation for that model.
   */
  async ensureTuner(model: string | Address, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const modelAddress = await this.ensureStarted(model, options);
    const id = kindAddress(ActorKind.Tuner, entityName(ActorKind.Model, modelAddress));
    if (!this.router.has(id)) {
      try {
        this.router.registerActor(id, new TunerActor({ model: modelAddress }), TunerActor.actorOptions);
      } catch (error) {
        // Two callers raced to start it: the other one won, which is what both wanted.
        if (!(error instanceof ActorAlreadyRegisteredError)) throw error;
      }
    }
    return id;
  }

  /** Stops a model's actor (its generations are aborted and the model freed) and its tuner; the entity stays. */
  async stopModel(model: string | Address): Promise<boolean> {
    const name = entityName(ActorKind.Model, model);
    const tuner = kindAddress(ActorKind.Tuner, name);
    if (this.router.has(tuner)) await this.router.unregisterActor(tuner);
    return this.router.unregisterActor(kindAddress(ActorKind.Model, name));
  }

  /**
   * Generates with a model, starting its actor on first use: the seed's
   * `ModelManager.invokeModel(id, {message, system, stream, onToken})`.
   */
  async invokeModel(model: string | Address, options: InvokeModelOptions): Promise<GenerateResult> {
    const hasMessage = options?.message !== undefined;
    if (hasMessage === (options?.messages !== undefined)) {
      throw new InvalidArgumentError('invokeModel needs exactly one of message and messages');
    }
    const messages: ChatMessage[] = [];
    if (options.system !== undefined) messages.push({ role: 'system', content: options.system });
    if (hasMessage) messages.push({ role: 'user', content: options.message as string });
    else messages.push(...(options.messages as ChatMessage[]));
    const request: GenerateRequest = {
      messages,
      ...(options.params ? { params: options.params } : {}),
      ...(options.session ? { session: options.session } : {}),
    };
    const common = {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    };
    const ref = await this.ref(model, options.signal ? { signal: options.signal } : {});
    let usage: GenerationUsage | undefined;
    const onToken = options.stream ? options.onToken : undefined;
    const result = await ref.streamAsk(ModelMessage.Generate, request, {
      ...common,
      onChunk: async (event) => {
        if (event.type === 'token' && event.content && onToken) await onToken(event.content, event);
        if (event.type === 'done') usage = event.usage;
      },
    });
    if (result.error) throw result.error;
    return {
      text: result.text,
      finishReason: result.finishReason,
      usage: usage ?? {
        promptTokens: 0,
        completionTokens: result.tokenCount,
        totalTokens: result.tokenCount,
        timeToFirstTokenMs: result.timeToFirstTokenMs,
        tokensPerSecond: result.tokensPerSecond,
        queueMs: 0,
        cachedPromptTokens: 0,
      },
    };
  }
}
