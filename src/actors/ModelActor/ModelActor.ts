import { modelProtocol } from './modelProtocol.js';
import type { Token } from 'node-llama-cpp';
import type { Logger } from 'pino';
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { AbortedError, ActorError, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import type { StreamCallback, TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions, StateReporter } from '../../messaging/types.js';
import { type AdapterSetChange, adapterSetChanges } from './adapterSetChanges.js';
import { adapterSetKey } from './adapterSetKey.js';
import { AdapterValidationCache } from './AdapterValidationCache.js';
import { tokenizeChat } from './chatPrompt.js';
import { embedTexts } from './embedTexts.js';
import { countPromptTokens, type GeneratedToken, type GenerationEnd, type GenerationEnvironment, generateTokens } from './generateTokens.js';
import { generationReplies } from './generationReplies.js';
import { GrammarCache } from './GrammarCache.js';
import { freeLoadedModel, type LoadedModel } from './LoadedModel.js';
import { loadModel, type ModelLoadHooks } from './loadModel.js';
import { createModelLifecycle, type ModelLifecycle, ModelLifecycleEvent } from './modelLifecycle.js';
import { EmbeddingsDisabledError, ModelLoadError, ModelNotReadyError } from './modelErrors.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import { type ScoringEnvironment, scoreTokens } from './scoreTokens.js';
import { SlotLease, type SlotRequest } from './SlotLease.js';
import { Throughput } from './Throughput.js';
import {
  type AdapterListing,
  type AppliedAdapter,
  type EmbedRequest,
  type GenerateRequest,
  ModelLifecycleState,
  ModelMessage,
  type ModelActorOptions,
  type ModelInfo,
  type ModelStatus,
  type ScoreRequest,
  type CountPromptTokensRequest,
  type TokenizeChatRequest,
} from './types.js';
import { validateAdapter } from './validateAdapter.js';

/**
 * The one owner of a loaded GGUF model. It alone calls llama.cpp: every generation gets one of
 * `slots` parallel sequences of a single context for its duration, and node-llama-cpp batches the
 * running sequences into shared decodes (continuous batching). Requests beyond the slots wait in a
 * bounded queue served round-robin across sessions; a full queue is refused at once.
 *
 * Register it with {@link ModelActor.actorOptions}, which lets the router hand it enough messages
 * at once for every slot and queue place (admission happens here, not in the mailbox).
 *
 * This class is the dispatch and the lifecycle; the work is in files of its own: loading
 * (`loadModel`), the contexts of adapter sets (`AdapterContexts`, `ContextPool`), a slot held by a
 * request (`SlotLease`), generation (`generateTokens`), scoring (`scoreTokens`), chat prompts
 * (`chatPrompt`), embeddings (`embedTexts`) and the counters (`Throughput`).
 *
 * @example
 * ```ts
 * const model = new ModelActor({ modelPath: 'models/demo.gguf' });
 * const llm = router.ref(router.registerActor('model/demo', model, model.actorOptions), modelProtocol);
 * const { text } = await llm.ask(ModelMessage.Generate, { // a GenerateResult
 *   prompt: 'The actor', params: { maxTokens: 16, temperature: 0 },
 * }, { timeout: 60_000 });
 * ```
 */
export class ModelActor extends Actor implements AsyncDisposable {
  override readonly protocol = modelProtocol;
  private readonly options: ModelActorOptions;
  private readonly clock: Clock;
  private logger: Logger | undefined;
  private lifecycle: ModelLifecycle;
  private loaded: LoadedModel | undefined;
  private loading: Promise<LoadedModel> | undefined;
  /** Why the last load failed; requests get this error while the model is `failed`. */
  private loadError: ActorError | undefined;
  /** One promise per leased slot: unload waits for every slot to be back. */
  private readonly active = new Set<Promise<unknown>>();
  /** Fires for every running generation when the model is being unloaded. */
  private unloadController = new AbortController();
  private readonly grammars = new GrammarCache();
  private readonly throughput = new Throughput();
  private disposing: Promise<void> | undefined;
  private stateReporter: StateReporter | undefined;
  /** The model's adapter set: what requests that name none generate with. */
  private defaultAdapters: AppliedAdapter[] = [];
  /** `adapterSetKey(defaultAdapters)`, kept with it: every request's release compares against it. */
  private defaultKey = '';
  /** Adapter-set changes run one at a time. */
  private adapterChange: Promise<unknown> = Promise.resolve();
  /** Kept across loads: an adapter file is read again only when it changes. */
  private readonly adapterValidation = new AdapterValidationCache();

  constructor(options: ModelActorOptions) {
    super();
    if (typeof options?.modelPath !== 'string' || options.modelPath.length === 0) {
      throw new InvalidArgumentError('ModelActor needs a modelPath');
    }
    for (const name of ['slots', 'maxQueue', 'contextSize', 'batchSize', 'threads', 'maxContexts', 'adapterContextIdleMs'] as const) {
      const value = options[name];
      const min = name === 'maxQueue' || name === 'adapterContextIdleMs' ? 0 : 1;
      if (value !== undefined && (!Number.isInteger(value) || value < min)) {
        throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
      }
    }
    if (options.adapters !== undefined) this.setDefaultAdapters(resolveAdapterSpecs(options.adapters));
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    // Lifecycle changes go to the router's inspection hook once the actor is registered.
    this.lifecycle = createModelLifecycle((state) => this.stateReporter?.(state, { model: options.modelPath }));
  }

  /**
   * Router options: a mailbox with room for every slot and queue place. Generations run in the
   * concurrent lane (see {@link modelProtocol}); the model's own scheduler admits them to slots and
   * refuses past `maxQueue` with `QUEUE_FULL`.
   */
  get actorOptions(): ActorOptions {
    const slots = this.options.slots ?? 8;
    const maxQueue = this.options.maxQueue ?? 64;
    return { mailboxSize: Math.max(1_000, slots + maxQueue) };
  }

  /** The lifecycle state: unloaded, loading, ready, failed or disposed. */
  get state(): ModelLifecycleState {
    return this.lifecycle.getSnapshot().value as ModelLifecycleState;
  }

  /** Loads the model when the actor starts. Load errors do not crash the actor: requests get them. */
  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.logger ??= context.logger;
    this.stateReporter = context.reportState;
    context.reportState(this.state);
    this.load().catch(() => {});
  }

  /** Aborts running generations, waits for them to release their slots, then frees the model. */
  override async onStop(): Promise<void> {
    await this.unload();
  }

  /**
   * Loads the model if it is not loaded (idempotent while loading). Resolves with its info; rejects
   * with `MODEL_FILE_NOT_FOUND`, `INVALID_MODEL_FILE` or `MODEL_LOAD_FAILED`.
   */
  load(): Promise<ModelInfo> {
    if (this.loaded) return Promise.resolve(this.loaded.info);
    if (this.state === ModelLifecycleState.Disposed) return Promise.reject(new ModelNotReadyError('disposed'));
    if (!this.loading) {
      this.lifecycle.send({ type: ModelLifecycleEvent.Load });
      this.loading = loadModel(this.options, this.loadHooks()).then(
        (loaded) => {
          if (this.state !== ModelLifecycleState.Loading) {
            // Unloaded or disposed while loading: free what was just loaded.
            void freeLoadedModel(loaded);
            throw new ModelNotReadyError(this.state);
          }
          this.loaded = loaded;
          this.loadError = undefined;
          this.lifecycle.send({ type: ModelLifecycleEvent.Loaded });
          this.logger?.info({ model: loaded.info.path, slots: loaded.info.slots, threads: loaded.info.threads }, 'model loaded');
          return loaded;
        },
        (error: unknown) => {
          this.loading = undefined;
          this.loadError = error instanceof ActorError ? error : new ModelLoadError(String(error), { cause: error });
          this.lifecycle.send({ type: ModelLifecycleEvent.Fail });
          this.logger?.error({ err: error, model: this.options.modelPath }, 'model load failed');
          throw this.loadError;
        },
      );
    }
    return this.loading.then((loaded) => loaded.info);
  }

  private loadHooks(): ModelLoadHooks {
    const model = this.options.modelPath;
    return {
      clock: this.clock,
      progress: (progress) => {
        this.options.onLoadProgress?.(progress);
        this.stateReporter?.(ModelLifecycleState.Loading, { model, progress });
      },
      defaultAdapters: () => this.defaultAdapters,
      isDefault: (key) => key === this.defaultKey,
      validate: (path, loadedModel) => this.adapterValidation.validated(path, loadedModel),
      logger: () => this.logger,
    };
  }

  /** The loaded model, waiting for a load in progress; typed errors otherwise. */
  private async ready(): Promise<LoadedModel> {
    if (this.loaded) return this.loaded;
    if (this.loading) return this.loading;
    if (this.state === ModelLifecycleState.Failed && this.loadError) throw this.loadError;
    throw new ModelNotReadyError(this.state);
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    const payload = message.payload;
    switch (message.type) {
      case ModelMessage.Generate:
        return generationReplies.result(this.generate(payload as GenerateRequest, context), context.signal);
      case ModelMessage.Embed:
        if (this.options.embeddings === false) throw new EmbeddingsDisabledError();
        return embedTexts(await this.ready(), payload as EmbedRequest, context.signal);
      case ModelMessage.Tokenize: {
        const { text } = (payload ?? {}) as { text?: unknown };
        if (typeof text !== 'string') throw new InvalidArgumentError('tokenize needs { text: string }');
        return { tokens: (await this.ready()).model.tokenize(text) as number[] };
      }
      case ModelMessage.Detokenize:
        return this.detokenize(payload);
      case ModelMessage.Info:
        return (await this.ready()).info;
      case ModelMessage.Status:
        return this.status();
      case ModelMessage.ApplyAdapter:
        return this.changeAdapters(adapterSetChanges.apply(payload), context.signal);
      case ModelMessage.RemoveAdapter:
        return this.changeAdapters(adapterSetChanges.remove(payload), context.signal);
      case ModelMessage.SetAdapterScale:
        return this.changeAdapters(adapterSetChanges.setScale(payload), context.signal);
      case ModelMessage.ListAdapters:
        return this.adapterListing(await this.ready());
      case ModelMessage.ValidateAdapter: {
        const { path } = (payload ?? {}) as { path?: unknown };
        if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('validateAdapter needs { path: string }');
        const loaded = await this.ready();
        return validateAdapter(path, loaded.model.fileInfo, { signal: context.signal });
      }
      case ModelMessage.TokenizeChat:
        return tokenizeChat(await this.ready(), payload as TokenizeChatRequest);
      case ModelMessage.CountPromptTokens:
        return countPromptTokens(this.generationEnvironment(await this.ready()), payload as CountPromptTokensRequest);
      case ModelMessage.Score:
        return scoreTokens(this.scoringEnvironment(await this.ready()), payload as ScoreRequest, {
          from: context.message.from,
          signal: context.signal,
        });
      default:
        return super.receive(message, context);
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    if (context.message.type !== ModelMessage.Generate) {
      throw new UnsupportedMessageError(context.self.slice(2, -1), context.message.type);
    }
    await generationReplies.stream(this.generate(payload as GenerateRequest, context), onChunk);
  }

  /** One generation on the loaded model (see {@link generateTokens}). */
  private async *generate(request: GenerateRequest, context: ActorContext): AsyncGenerator<GeneratedToken, GenerationEnd> {
    const admittedAt = this.clock.now();
    const loaded = await this.ready();
    return yield* generateTokens(this.generationEnvironment(loaded), request, {
      from: context.message.from,
      signal: context.signal,
      admittedAt,
    });
  }

  private generationEnvironment(loaded: LoadedModel): GenerationEnvironment {
    return {
      loaded,
      defaultParams: this.options.defaultParams,
      defaultAdapters: () => this.defaultAdapters,
      clock: this.clock,
      throughput: this.throughput,
      grammar: (schema) => this.grammars.get(loaded.llama, schema),
      gbnf: (text) => this.grammars.gbnf(loaded.llama, text),
      signal: (request) => this.withUnload(request),
      leaseSlot: (request) => this.leaseSlot(loaded, request),
    };
  }

  private scoringEnvironment(loaded: LoadedModel): ScoringEnvironment {
    return {
      info: loaded.info,
      batchSize: loaded.settings.batchSize,
      defaultAdapters: () => this.defaultAdapters,
      signal: (request) => this.withUnload(request),
      leaseSlot: (request) => this.leaseSlot(loaded, request),
    };
  }

  /** A slot of the request's adapter set; unload waits until it is given back. */
  private leaseSlot(loaded: LoadedModel, request: SlotRequest): Promise<SlotLease> {
    const environment = { contexts: loaded.contexts, clock: this.clock, reuseKvCache: this.options.reuseKvCache !== false, active: this.active };
    return SlotLease.acquire(environment, request);
  }

  /** A request's signal that also fires when the model is being unloaded. */
  private withUnload(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, this.unloadController.signal]);
  }

  private async detokenize(payload: unknown): Promise<{ text: string }> {
    const { tokens } = (payload ?? {}) as { tokens?: unknown };
    const loaded = await this.ready();
    if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= loaded.info.vocabularySize)) {
      throw new InvalidArgumentError(`detokenize needs { tokens: integer[] } with ids in 0..${loaded.info.vocabularySize - 1}`);
    }
    return { text: loaded.model.detokenize(tokens as Token[]) };
  }

  private setDefaultAdapters(adapters: AppliedAdapter[]): void {
    this.defaultAdapters = adapters;
    this.defaultKey = adapterSetKey(adapters);
  }

  /**
   * Replaces the model's adapter set. The new set's context is created (and llama.cpp's verdict
   * known) before the switch; generations running on the old set finish on it, and its context is
   * freed when they are done. Changes run one at a time.
   */
  private changeAdapters(change: AdapterSetChange, signal: AbortSignal): Promise<AdapterListing> {
    const run = async (): Promise<AdapterListing> => {
      const loaded = await this.ready();
      if (signal.aborted) throw new AbortedError('changing adapters', { cause: signal.reason });
      const next = change(this.defaultAdapters);
      const previousKey = this.defaultKey;
      if (adapterSetKey(next) !== previousKey) {
        const pool = await loaded.contexts.lease(next);
        this.setDefaultAdapters(next);
        loaded.contexts.release(pool);
        const previous = loaded.contexts.get(previousKey);
        if (previous) loaded.contexts.freeWhenIdle(previous);
        this.logger?.info({ adapters: next }, 'adapter set changed');
      }
      return this.adapterListing(loaded);
    };
    const result = this.adapterChange.then(run, run);
    this.adapterChange = result.catch(() => {});
    return result;
  }

  /** The model's adapter set and the contexts alive now. */
  private adapterListing(loaded: LoadedModel): AdapterListing {
    return {
      applied: this.defaultAdapters.map((a) => ({ ...a })),
      contexts: loaded.contexts.describe(loaded.contextBytes),
      maxContexts: this.options.maxContexts ?? 3,
    };
  }

  /** Slots, queue and throughput now. */
  status(): ModelStatus {
    const usage = this.loaded?.contexts.usage();
    return {
      state: this.state,
      slots: this.loaded?.info.slots ?? this.options.slots ?? 0,
      busySlots: usage?.busySlots ?? 0,
      queueDepth: usage?.queueDepth ?? 0,
      maxQueue: this.options.maxQueue ?? 64,
      completed: this.throughput.completed,
      tokensGenerated: this.throughput.tokensGenerated,
      tokensPerSecond: this.throughput.tokensPerSecond(this.clock.now()),
      contexts: usage?.contexts ?? 0,
      ...(usage?.batching === undefined ? {} : { batching: usage.batching }),
    };
  }

  /**
   * Aborts running generations and queued requests, waits until every slot is back (a sequence is
   * never disposed mid-generation), then frees the context and the model. The actor can load again.
   */
  async unload(): Promise<void> {
    const loading = this.loading;
    this.unloadController.abort(new ModelNotReadyError('unloading'));
    if (this.state !== ModelLifecycleState.Disposed) this.lifecycle.send({ type: ModelLifecycleEvent.Unload });
    const loaded = this.loaded ?? (await loading?.catch(() => undefined));
    this.loaded = undefined;
    this.loading = undefined;
    if (loaded) {
      loaded.contexts.retire();
      loaded.contexts.rejectQueued(new ModelNotReadyError('unloading'));
      await Promise.all(this.active);
      await freeLoadedModel(loaded);
    }
    this.grammars.clear();
    this.unloadController = new AbortController();
  }

  /** Unloads the model for good. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= this.unload().then(() => {
      this.lifecycle.send({ type: ModelLifecycleEvent.Dispose });
    });
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
