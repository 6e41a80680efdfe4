import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type Llama,
  type ControlledEvaluateInputItem,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  LlamaGrammarEvaluationState,
  type LlamaGrammar,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from 'node-llama-cpp';
import type { Logger } from 'pino';
import { checkModelFile } from '../../gguf/checkModelFile.js';
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { Deferred } from '../../messaging/Deferred.js';
import { AbortedError, ActorError, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import { FinishReason, type StreamCallback, type TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions, StateReporter } from '../../messaging/types.js';
import { AdapterContextsFullError, AdapterLoadError, AdapterNotAppliedError } from './adapterErrors.js';
import { adapterSetKey, ContextPool, type PoolSlot, type SlotOwner } from './ContextPool.js';
import { commonPrefix } from './commonPrefix.js';
import { chooseEngine, defaultSlots, defaultThreads } from './modelDefaults.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import { evaluateOptions, nativeSampling } from './samplingOptions.js';
import { NativeEngine } from './native/NativeEngine.js';
import { NativeModelLoadError } from './native/nativeErrors.js';
import { NativeSlot } from './native/NativeSlot.js';
import { createModelLifecycle, type ModelLifecycle, ModelLifecycleEvent } from './modelLifecycle.js';
import {
  EmbeddingsDisabledError,
  EmptyPromptError,
  InvalidModelFileError,
  ModelLoadError,
  ModelNotReadyError,
  PromptTooLongError,
} from './modelErrors.js';
import { resolveGenerationParams } from './resolveGenerationParams.js';
import { TokenTextDecoder } from './TokenTextDecoder.js';
import {
  type AdapterListing,
  type AppliedAdapter,
  type ApplyAdapterRequest,
  type ChatMessage,
  type ChatTokens,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerationUsage,
  ModelLifecycleState,
  ModelMessage,
  type ModelActorOptions,
  type ModelEngine,
  type ModelInfo,
  type ModelStatus,
  type RemoveAdapterRequest,
  type ScoreRequest,
  type ScoreResult,
  type SetAdapterScaleRequest,
  type TokenizeChatRequest,
} from './types.js';
import { type AdapterInfo, validateAdapter } from './validateAdapter.js';

/** One token of a running generation, as the generator yields it. */
interface GeneratedToken {
  text: string;
  /** Undefined only for the text-only event that releases held-back text at the end. */
  tokenId: Token | undefined;
  logprob: number | undefined;
  tokensPerSecond: number;
}

/** How a generation ended, the generator's return value. */
interface GenerationEnd {
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
}

/** How every context of a model is created (the same for each adapter set). */
interface ContextSettings {
  engine: ModelEngine;
  contextSize: number;
  slots: number;
  threads: number;
  batchSize: number;
  flashAttention: boolean | 'auto';
  maxQueue: number;
}

/** What exists while the model is loaded. */
interface Loaded {
  llama: Llama;
  ownsLlama: boolean;
  /** node-llama-cpp's model: vocabulary only when the native engine holds the weights. */
  model: LlamaModel;
  /** node-llama-cpp's model with weights, for what only node-llama-cpp serves (adapters, embeddings). */
  weights: () => Promise<LlamaModel>;
  /** The weights' load if it was started, without starting it. */
  startedWeights: () => Promise<LlamaModel> | undefined;
  /** One context per adapter set in use, by {@link adapterSetKey}. */
  pools: Map<string, ContextPool>;
  settings: ContextSettings;
  /** node-llama-cpp's estimate of one context's memory, in bytes. */
  contextBytes: number;
  chatWrapper: ChatWrapper;
  info: ModelInfo;
  embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
}

const ROLE_ORDER = new Set(['system', 'user', 'assistant']);
const RATE_WINDOW_MS = 5_000;
const RATE_BUCKET_MS = 100;

/**
 * The one owner of a loaded GGUF model. It alone calls llama.cpp: every generation gets one of
 * `slots` parallel sequences of a single context for its duration, and node-llama-cpp batches the
 * running sequences into shared decodes (continuous batching). Requests beyond the slots wait in a
 * bounded queue served round-robin across sessions; a full queue is refused at once.
 *
 * Register it with {@link ModelActor.actorOptions}, which lets the router hand it enough messages
 * at once for every slot and queue place (admission happens here, not in the mailbox).
 *
 * @example
 * ```ts
 * const model = new ModelActor({ modelPath: 'models/demo.gguf' });
 * const address = router.registerActor('model', model, model.actorOptions);
 * const { text } = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
 *   prompt: 'The actor', params: { maxTokens: 16, temperature: 0 },
 * }, { timeout: 60_000 });
 * ```
 */
export class ModelActor extends Actor implements AsyncDisposable {
  private readonly options: ModelActorOptions;
  private readonly clock: Clock;
  private logger: Logger | undefined;
  private lifecycle: ModelLifecycle;
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  /** Why the last load failed; requests get this error while the model is `failed`. */
  private loadError: ActorError | undefined;
  private readonly active = new Set<Promise<unknown>>();
  /** Fires for every running generation when the model is being unloaded. */
  private unloadController = new AbortController();
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private completed = 0;
  private tokensGenerated = 0;
  private readonly recentTokens: Array<{ bucket: number; count: number }> = [];
  private disposing: Promise<void> | undefined;
  private stateReporter: StateReporter | undefined;
  /** The model's adapter set: what requests that name none generate with. */
  private defaultAdapters: AppliedAdapter[] = [];
  /** `adapterSetKey(defaultAdapters)`, kept with it: every request's release compares against it. */
  private defaultKey = '';
  /** Adapter-set changes run one at a time. */
  private adapterChange: Promise<unknown> = Promise.resolve();
  /** Validated adapters by absolute path (re-validated when the file changes). */
  private readonly adapterInfo = new Map<string, { mtimeMs: number; info: AdapterInfo }>();

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

  /** Router options that let every slot and queue place hold a message at once. */
  get actorOptions(): ActorOptions {
    const slots = this.options.slots ?? 8;
    const maxQueue = this.options.maxQueue ?? 64;
    // Control messages (info, status, tokenize) get room of their own beside generations.
    return { concurrency: slots + maxQueue + 16, mailboxSize: Math.max(1_000, slots + maxQueue) };
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
      this.loading = this.doLoad().then(
        (loaded) => {
          if (this.state !== ModelLifecycleState.Loading) {
            // Unloaded or disposed while loading: free what was just loaded.
            void this.free(loaded);
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

  private async doLoad(): Promise<Loaded> {
    const path = this.options.modelPath;
    await checkModelFile(path);
    let llama = this.options.llama;
    const ownsLlama = llama === undefined;
    if (!llama) {
      try {
        llama = await getLlama({ gpu: 'auto', build: 'never' });
      } catch (error) {
        throw new ModelLoadError(
          `no usable llama.cpp binary for this platform (prebuilt binaries are used, nothing is built at run time; ` +
            `build one with \`npx node-llama-cpp source download --gpu false\`): ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    const gpu = llama.gpu !== false;
    let engine: ModelEngine;
    try {
      engine = chooseEngine(this.options.engine ?? 'auto', gpu);
    } catch (error) {
      if (ownsLlama) await llama.dispose();
      throw error;
    }
    // With the native engine holding the weights, node-llama-cpp needs only the vocabulary
    // (tokenizer, chat template) until something it alone serves asks for the weights.
    const loadWeights = (vocabOnly: boolean) =>
      (llama as Llama)
        .loadModel({
          modelPath: path,
          gpuLayers: this.options.gpuLayers ?? 'auto',
          vocabOnly,
          onLoadProgress: (progress: number) => {
            this.options.onLoadProgress?.(progress);
            this.stateReporter?.(ModelLifecycleState.Loading, { model: path, progress });
          },
        })
        .catch((error: unknown) => {
          throw new InvalidModelFileError(path, `llama.cpp refused it: ${(error as Error).message}`);
        });
    let model: LlamaModel;
    try {
      model = await loadWeights(engine === 'native');
    } catch (error) {
      if (ownsLlama) await llama.dispose();
      throw error;
    }
    let weights: Promise<LlamaModel> | undefined = engine === 'native' ? undefined : Promise.resolve(model);
    const getWeights = () => {
      weights ??= loadWeights(false).catch((error: unknown) => {
        weights = undefined;
        throw error;
      });
      return weights;
    };
    try {
      const slots = this.options.slots ?? defaultSlots(gpu);
      const threads = this.options.threads ?? (gpu ? 0 : defaultThreads(availableParallelism(), engine));
      // A vocabulary-only model has no hyperparameters loaded: read them from the file's header.
      const trainContextSize = model.trainContextSize || (model.fileInsights.trainContextSize ?? 0);
      const contextSize = this.options.contextSize ?? Math.min(trainContextSize, 4096);
      const batchSize = this.options.batchSize ?? Math.min(512, contextSize);
      const flashAttention = this.options.flashAttention ?? (gpu ? 'auto' : false);
      const settings: ContextSettings = { engine, contextSize, slots, threads, batchSize, flashAttention, maxQueue: this.options.maxQueue ?? 64 };
      for (const adapter of this.defaultAdapters) await this.validated(adapter.path, model);
      const pool = this.newPool(getWeights, settings, this.defaultAdapters);
      pool.leases++;
      await pool.ready.finally(() => pool.leases--);
      if (pool.context instanceof NativeEngine) {
        // The native engine loaded the weights itself, after node-llama-cpp's vocabulary-only load.
        this.options.onLoadProgress?.(1);
        this.stateReporter?.(ModelLifecycleState.Loading, { model: path, progress: 1 });
      }
      const context = pool.context;
      const info: ModelInfo = {
        path,
        architecture: model.fileInfo.metadata.general?.architecture,
        name: model.fileInfo.metadata.general?.name,
        contextSize: context.contextSize,
        trainContextSize,
        vocabularySize: (model.fileInfo.metadata.tokenizer?.ggml?.tokens as unknown[] | undefined)?.length ?? 0,
        embeddingSize: model.embeddingVectorSize || (model.fileInsights.embeddingVectorSize ?? 0),
        sizeBytes: (await stat(path)).size,
        parameters: model.fileInsights.totalParameters,
        gpu: llama.gpu,
        gpuLayers: model.gpuLayers,
        threads: context.currentThreads,
        slots,
        batchSize: context.batchSize,
        localBuild: llama.buildType === 'localBuild',
        engine: pool.context instanceof NativeEngine ? 'native' : 'node-llama-cpp',
        chatTemplate: '',
      };
      const chatWrapper = resolveChatWrapper(model);
      info.chatTemplate = chatWrapper.wrapperName;
      const estimate = await model.fileInsights
        .estimateContextResourceRequirementsV2({
          contextSize: context.contextSize,
          modelGpuLayers: model.gpuLayers,
          batchSize: context.batchSize,
          sequences: slots,
          flashAttention: context.flashAttention,
        })
        .catch(() => ({ cpuRam: 0, gpuVram: 0 }));
      return {
        llama,
        ownsLlama,
        model,
        weights: getWeights,
        startedWeights: () => weights,
        pools: new Map([[pool.key, pool]]),
        settings: { ...settings, contextSize: context.contextSize },
        contextBytes: estimate.cpuRam + estimate.gpuVram,
        chatWrapper,
        info,
        embeddingContext: undefined,
      };
    } catch (error) {
      await model.dispose();
      if (weights) await (await weights.catch(() => undefined))?.dispose();
      if (ownsLlama) await llama.dispose();
      if (error instanceof ActorError) throw error;
      throw new ModelLoadError(`could not create a context for ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A pool whose context is being created for `adapters` (not yet registered anywhere). */
  private newPool(weights: () => Promise<LlamaModel>, settings: ContextSettings, adapters: readonly AppliedAdapter[]): ContextPool {
    const { contextSize, slots, threads, batchSize, flashAttention, maxQueue } = settings;
    return new ContextPool(
      adapterSetKey(adapters),
      adapters,
      async () => {
        if (settings.engine === 'native' && adapters.length === 0) {
          const modelPath = this.options.modelPath;
          return NativeEngine.create({ modelPath, contextSize, slots, threads, batchSize, flashAttention }).catch((error: unknown) => {
            throw error instanceof NativeModelLoadError ? new InvalidModelFileError(modelPath, `llama.cpp refused it: ${error.message}`) : error;
          });
        }
        const model = await weights();
        try {
          return await model.createContext({
            contextSize,
            sequences: slots,
            threads,
            batchSize,
            flashAttention,
            ...(adapters.length > 0
              ? { lora: { adapters: adapters.map((adapter) => ({ filePath: adapter.path, scale: adapter.scale })) } }
              : {}),
          });
        } catch (error) {
          if (adapters.length === 0) throw error;
          throw new AdapterLoadError(
            `llama.cpp could not apply ${adapters.map((a) => a.path).join(', ')}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      },
      slots,
      maxQueue,
    );
  }

  /**
   * Leases the pool of an adapter set, creating its context if none serves the set. Every lease
   * must be returned with {@link releasePool}.
   */
  private async leasePool(loaded: Loaded, adapters: readonly AppliedAdapter[]): Promise<ContextPool> {
    const key = adapterSetKey(adapters);
    let pool = loaded.pools.get(key);
    if (!pool) {
      const limit = this.options.maxContexts ?? 3;
      if (loaded.pools.size >= limit) {
        // Make room by freeing an idle context of a set nobody uses now.
        const idle = [...loaded.pools.values()].find((p) => p.leases === 0 && p.key !== this.defaultKey);
        if (!idle) throw new AdapterContextsFullError(loaded.pools.size, limit);
        this.freePool(loaded, idle);
      }
      for (const adapter of adapters) await this.validated(adapter.path, loaded.model);
      // Validation awaited: another request may have created the pool meanwhile.
      pool = loaded.pools.get(key);
      if (!pool) {
        pool = this.newPool(loaded.weights, loaded.settings, adapters);
        loaded.pools.set(key, pool);
        const created = pool;
        created.ready.catch(() => {
          if (loaded.pools.get(key) === created) loaded.pools.delete(key);
        });
        this.logger?.info({ adapters: adapters.map((a) => a.path), contexts: loaded.pools.size }, 'adapter context created');
      }
    }
    pool.leases++;
    if (pool.idleTimer !== undefined) {
      this.clock.clearTimeout(pool.idleTimer);
      pool.idleTimer = undefined;
    }
    try {
      return await pool.ready;
    } catch (error) {
      pool.leases--;
      throw error;
    }
  }

  /** Returns a lease; a context of a non-default set is freed once idle for `adapterContextIdleMs`. */
  private releasePool(loaded: Loaded, pool: ContextPool): void {
    pool.leases--;
    this.freeWhenIdle(loaded, pool);
  }

  private freeWhenIdle(loaded: Loaded, pool: ContextPool): void {
    if (pool.leases > 0 || pool.idleTimer !== undefined || loaded.pools.get(pool.key) !== pool) return;
    if (pool.key === this.defaultKey) return;
    const idleMs = this.options.adapterContextIdleMs ?? 30_000;
    if (idleMs === 0) {
      this.freePool(loaded, pool);
      return;
    }
    pool.idleTimer = this.clock.setTimeout(() => {
      pool.idleTimer = undefined;
      if (pool.leases === 0 && this.loaded === loaded) this.freePool(loaded, pool);
    }, idleMs);
  }

  /** Frees an idle pool's context (never one with a lease: no sequence is disposed mid-generation). */
  private freePool(loaded: Loaded, pool: ContextPool): void {
    if (pool.leases > 0) return;
    if (loaded.pools.get(pool.key) === pool) loaded.pools.delete(pool.key);
    if (pool.idleTimer !== undefined) this.clock.clearTimeout(pool.idleTimer);
    pool.idleTimer = undefined;
    this.logger?.info({ adapters: pool.adapters.map((a) => a.path), contexts: loaded.pools.size }, 'adapter context freed');
    void pool.ready.then((ready) => ready.context.dispose()).catch(() => {});
  }

  private setDefaultAdapters(adapters: AppliedAdapter[]): void {
    this.defaultAdapters = adapters;
    this.defaultKey = adapterSetKey(adapters);
  }

  /** Validates an adapter against the loaded model, once per file version. */
  private async validated(path: string, model: LlamaModel, signal?: AbortSignal): Promise<AdapterInfo> {
    const mtimeMs = await stat(path).then((s) => s.mtimeMs, () => -1);
    const cached = this.adapterInfo.get(path);
    if (cached && cached.mtimeMs === mtimeMs && mtimeMs >= 0) return cached.info;
    const info = await validateAdapter(path, model.fileInfo, signal ? { signal } : {});
    this.adapterInfo.set(path, { mtimeMs, info });
    return info;
  }

  /**
   * Replaces the model's adapter set. The new set's context is created (and llama.cpp's verdict
   * known) before the switch; generations running on the old set finish on it, and its context is
   * freed when they are done. Changes run one at a time.
   */
  private changeAdapters(change: (current: AppliedAdapter[]) => AppliedAdapter[], signal: AbortSignal): Promise<AdapterListing> {
    const run = async (): Promise<AdapterListing> => {
      const loaded = await this.ready();
      if (signal.aborted) throw new AbortedError('changing adapters', { cause: signal.reason });
      const next = change(this.defaultAdapters);
      const previousKey = this.defaultKey;
      if (adapterSetKey(next) !== previousKey) {
        const pool = await this.leasePool(loaded, next);
        this.setDefaultAdapters(next);
        this.releasePool(loaded, pool);
        const previous = loaded.pools.get(previousKey);
        if (previous) this.freeWhenIdle(loaded, previous);
        this.logger?.info({ adapters: next }, 'adapter set changed');
      }
      return this.adapterListing(loaded);
    };
    const result = this.adapterChange.then(run, run);
    this.adapterChange = result.catch(() => {});
    return result;
  }

  /** The model's adapter set and the contexts alive now. */
  private adapterListing(loaded: Loaded): AdapterListing {
    const defaultKey = this.defaultKey;
    return {
      applied: this.defaultAdapters.map((a) => ({ ...a })),
      contexts: [...loaded.pools.values()]
        .filter((pool) => pool.isReady)
        .map((pool) => ({
          adapters: pool.adapters.map((a) => ({ ...a })),
          isDefault: pool.key === defaultKey,
          slots: pool.slots,
          busySlots: pool.scheduler.busy,
          queueDepth: pool.scheduler.queueDepth,
          estimatedBytes: loaded.contextBytes,
        })),
      maxContexts: this.options.maxContexts ?? 3,
    };
  }

  /** The loaded model, waiting for a load in progress; typed errors otherwise. */
  private async ready(): Promise<Loaded> {
    if (this.loaded) return this.loaded;
    if (this.loading) return this.loading;
    if (this.state === ModelLifecycleState.Failed && this.loadError) throw this.loadError;
    throw new ModelNotReadyError(this.state);
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    switch (message.type) {
      case ModelMessage.Generate:
        return this.generateToEnd(message, context);
      case ModelMessage.Embed:
        return this.embed(message.payload as EmbedRequest, context.signal);
      case ModelMessage.Tokenize: {
        const { text } = (message.payload ?? {}) as { text?: unknown };
        if (typeof text !== 'string') throw new InvalidArgumentError('tokenize needs { text: string }');
        return { tokens: (await this.ready()).model.tokenize(text) as number[] };
      }
      case ModelMessage.Detokenize: {
        const { tokens } = (message.payload ?? {}) as { tokens?: unknown };
        const loaded = await this.ready();
        if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= loaded.info.vocabularySize)) {
          throw new InvalidArgumentError(
            `detokenize needs { tokens: integer[] } with ids in 0..${loaded.info.vocabularySize - 1}`,
          );
        }
        return { text: loaded.model.detokenize(tokens as Token[]) };
      }
      case ModelMessage.Info:
        return (await this.ready()).info;
      case ModelMessage.Status:
        return this.status();
      case ModelMessage.ApplyAdapter: {
        const { path, scale } = (message.payload ?? {}) as ApplyAdapterRequest;
        const [adapter] = resolveAdapterSpecs([{ path, ...(scale === undefined ? {} : { scale }) }]) as [AppliedAdapter];
        return this.changeAdapters(
          (current) => [...current.filter((a) => a.path !== adapter.path), adapter],
          context.signal,
        );
      }
      case ModelMessage.RemoveAdapter: {
        const { path } = (message.payload ?? {}) as RemoveAdapterRequest;
        if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
          throw new InvalidArgumentError('removeAdapter takes { path?: string }');
        }
        const target = path === undefined ? undefined : resolvePath(path);
        return this.changeAdapters((current) => {
          if (target === undefined) return [];
          if (!current.some((a) => a.path === target)) throw new AdapterNotAppliedError(target, current.map((a) => a.path));
          return current.filter((a) => a.path !== target);
        }, context.signal);
      }
      case ModelMessage.SetAdapterScale: {
        const { path, scale } = (message.payload ?? {}) as SetAdapterScaleRequest;
        if (scale === undefined) throw new InvalidArgumentError('setAdapterScale needs { path, scale }');
        const [adapter] = resolveAdapterSpecs([{ path, scale }]) as [AppliedAdapter];
        return this.changeAdapters((current) => {
          if (!current.some((a) => a.path === adapter.path)) {
            throw new AdapterNotAppliedError(adapter.path, current.map((a) => a.path));
          }
          return current.map((a) => (a.path === adapter.path ? adapter : a));
        }, context.signal);
      }
      case ModelMessage.ListAdapters:
        return this.adapterListing(await this.ready());
      case ModelMessage.ValidateAdapter: {
        const { path } = (message.payload ?? {}) as { path?: unknown };
        if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('validateAdapter needs { path: string }');
        const loaded = await this.ready();
        return validateAdapter(path, loaded.model.fileInfo, { signal: context.signal });
      }
      case ModelMessage.TokenizeChat:
        return this.tokenizeChat(await this.ready(), message.payload as TokenizeChatRequest);
      case ModelMessage.Score:
        return this.score(message.payload as ScoreRequest, context);
      default:
        return super.receive(message, context);
    }
  }

  override async stream(
    payload: unknown,
    onChunk: StreamCallback<TokenStreamEventInput>,
    context: ActorContext,
  ): Promise<void> {
    if (context.message.type !== ModelMessage.Generate) {
      throw new UnsupportedMessageError(context.self.slice(2, -1), context.message.type);
    }
    const generation = this.generate(payload as GenerateRequest, context);
    let step = await generation.next();
    while (!step.done) {
      const token = step.value;
      await onChunk({
        type: 'token',
        content: token.text,
        ...(token.tokenId === undefined ? {} : { tokenId: token.tokenId }),
        tokensPerSecond: token.tokensPerSecond,
        ...(token.logprob === undefined ? {} : { logprob: token.logprob }),
      });
      step = await generation.next();
    }
    const end = step.value;
    if (end.finishReason === FinishReason.Cancelled) return; // the router already sent the terminal event
    await onChunk({
      type: 'done',
      finishReason: end.finishReason,
      tokensPerSecond: end.usage.tokensPerSecond,
      // The whole GenerationUsage (queue time and cached tokens too): a TokenUsage with extras.
      usage: withoutUndefined(end.usage),
    });
  }

  private async generateToEnd(message: Message, context: ActorContext): Promise<GenerateResult> {
    const generation = this.generate(message.payload as GenerateRequest, context);
    let step = await generation.next();
    while (!step.done) step = await generation.next();
    if (step.value.finishReason === FinishReason.Cancelled) {
      throw context.signal.reason instanceof ActorError ? context.signal.reason : new AbortedError('generate');
    }
    return step.value;
  }

  /**
   * One generation: validates, waits for a slot (fairly), evaluates the prompt and yields tokens;
   * `finally` gives the slot back, whatever ended it. Aborting stops it within one token.
   */
  private async *generate(request: GenerateRequest, context: ActorContext): AsyncGenerator<GeneratedToken, GenerationEnd> {
    const admittedAt = this.clock.now();
    const loaded = await this.ready();
    if (typeof request !== 'object' || request === null) {
      throw new InvalidArgumentError(`generate needs { prompt } or { messages }, got ${JSON.stringify(request)}`);
    }
    const params = resolveGenerationParams(this.options.defaultParams, request.params);
    const promptTokens = this.promptTokens(loaded, request);
    const contextSize = loaded.info.contextSize;
    const minFree = request.minFreeTokens ?? 1;
    if (!Number.isInteger(minFree) || minFree < 1) {
      throw new InvalidArgumentError(`minFreeTokens must be a positive integer, got ${String(minFree)}`);
    }
    if (promptTokens.length + minFree > contextSize) {
      throw new PromptTooLongError(promptTokens.length, contextSize, minFree);
    }
    const grammar = params.jsonSchema ? await this.grammar(loaded, params.jsonSchema) : undefined;
    const adapters = request.adapters === undefined ? this.defaultAdapters : resolveAdapterSpecs(request.adapters);

    const signal = AbortSignal.any([context.signal, this.unloadController.signal]);
    const key = request.fairnessKey ?? request.session ?? context.message.from ?? 'anonymous';
    const queuedAt = this.clock.now();
    const pool = await this.leasePool(loaded, adapters);
    let sequence: PoolSlot;
    try {
      sequence = await pool.scheduler.acquire(key, signal, (free) => this.chooseSlot(pool, free, request.session, promptTokens));
    } catch (error) {
      this.releasePool(loaded, pool);
      throw error;
    }
    // unload() waits on this: the slot is back only when the generator's finally has run.
    const finished = new Deferred();
    this.active.add(finished.promise);
    const queueMs = this.clock.now() - queuedAt;
    try {
      const owner = pool.owners.get(sequence) as SlotOwner;
      owner.session = request.session;
      owner.lastUsed = this.clock.now();
      const { evaluate, cached } = await this.prepareSlot(sequence, promptTokens);
      const maxTokens = Math.min(params.maxTokens, contextSize - promptTokens.length);
      const decoder = new TokenTextDecoder(loaded.model, params.stop, promptTokens);
      const generated: Token[] = [];
      let text = '';
      let finishReason: FinishReason = FinishReason.Stop;
      let firstTokenAt: number | undefined;
      let lastTokenAt = 0;
      const rate = (): number =>
        generated.length > 1 && firstTokenAt !== undefined && lastTokenAt > firstTokenAt
          ? ((generated.length - 1) * 1000) / (lastTokenAt - firstTokenAt)
          : 0;
      const evaluation =
        sequence instanceof NativeSlot
          ? sequence.evaluate(evaluate, nativeSampling(params, grammar, request.logprobs === true, maxTokens), signal)
          : sequence.evaluateWithMetadata(
              evaluate,
              { confidence: request.logprobs === true },
              evaluateOptions(params, generated, grammar ? new LlamaGrammarEvaluationState({ model: await loaded.weights(), grammar }) : undefined),
            );
      for await (const output of evaluation) {
        // The signal is checked as each token arrives: aborting stops within one token, and
        // leaving the loop ends the evaluation cleanly; the sequence itself is never disposed.
        if (signal.aborted) {
          finishReason = FinishReason.Cancelled;
          break;
        }
        const now = this.clock.now();
        firstTokenAt ??= now;
        lastTokenAt = now;
        // The native engine's ids are plain numbers of the same vocabulary.
        const token = output.token as Token;
        generated.push(token);
        this.countToken(now);
        const piece = decoder.push(token);
        text += piece.text;
        const confidence = (output as { confidence?: number }).confidence;
        yield {
          text: piece.text,
          tokenId: token,
          logprob: confidence === undefined ? undefined : Math.log(confidence),
          tokensPerSecond: rate(),
        };
        if (piece.stopped) {
          finishReason = FinishReason.StopSequence;
          break;
        }
        if (generated.length >= maxTokens) {
          finishReason = FinishReason.Length;
          break;
        }
      }
      if (finishReason !== FinishReason.StopSequence && finishReason !== FinishReason.Cancelled) {
        const rest = decoder.flush();
        if (rest) {
          text += rest;
          // Text held back for a stop string that never completed: released as a text-only event.
          yield { text: rest, tokenId: undefined, logprob: undefined, tokensPerSecond: rate() };
        }
      }
      if (signal.aborted) finishReason = FinishReason.Cancelled;
      this.completed++;
      return {
        text,
        finishReason,
        usage: {
          promptTokens: promptTokens.length,
          completionTokens: generated.length,
          totalTokens: promptTokens.length + generated.length,
          timeToFirstTokenMs: firstTokenAt === undefined ? undefined : firstTokenAt - admittedAt,
          tokensPerSecond: rate(),
          queueMs,
          cachedPromptTokens: cached,
        },
      };
    } finally {
      pool.scheduler.release(sequence);
      this.releasePool(loaded, pool);
      this.active.delete(finished.promise);
      finished.resolve();
    }
  }

  /**
   * Picks a free slot: the one holding this session's KV cache if free, else the one whose cache
   * shares the longest prefix with the prompt (a shared system prompt, a retried request: as
   * llama-server matches slots by prompt), ties going to the least recently used (whose cache is
   * the least likely to be wanted again).
   */
  private chooseSlot(pool: ContextPool, free: readonly PoolSlot[], session: string | undefined, prompt: readonly Token[]): number {
    let best = -1;
    let bestShared = -1;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [index, sequence] of free.entries()) {
      const owner = pool.owners.get(sequence) as SlotOwner;
      if (session !== undefined && owner.session === session) return index;
      const shared = this.options.reuseKvCache === false ? 0 : commonPrefix(sequence.contextTokens, prompt);
      if (shared > bestShared || (shared === bestShared && owner.lastUsed < oldest)) {
        bestShared = shared;
        oldest = owner.lastUsed;
        best = index;
      }
    }
    return best;
  }


  /**
   * Keeps the longest prefix of the slot's evaluated tokens that the prompt shares and erases the
   * rest; returns the tokens still to evaluate. At least one token is always evaluated, because
   * sampling needs the logits of the prompt's last token.
   */
  private async prepareSlot(
    sequence: PoolSlot,
    prompt: Token[],
    keepAtMost = prompt.length - 1,
  ): Promise<{ evaluate: Token[]; cached: number }> {
    if (this.options.reuseKvCache === false) {
      await sequence.clearHistory();
      return { evaluate: prompt, cached: 0 };
    }
    const common = Math.min(commonPrefix(sequence.contextTokens, prompt), prompt.length - 1, keepAtMost);
    if (common === 0) await sequence.clearHistory();
    else if (common < sequence.nextTokenIndex) {
      await sequence.eraseContextTokenRanges([{ start: common, end: sequence.nextTokenIndex }]);
    }
    return { evaluate: prompt.slice(common), cached: common };
  }

  private promptTokens(loaded: Loaded, request: GenerateRequest): Token[] {
    const hasPrompt = request.prompt !== undefined;
    const hasMessages = request.messages !== undefined;
    if (hasPrompt === hasMessages) {
      throw new InvalidArgumentError('generate needs exactly one of prompt (a string) and messages (an array)');
    }
    if (hasPrompt) {
      if (typeof request.prompt !== 'string') {
        throw new InvalidArgumentError(`prompt must be a string, got ${typeof request.prompt}`);
      }
      if (request.prompt.length === 0) throw new EmptyPromptError();
      return loaded.model.tokenize(request.prompt);
    }
    const history = this.chatHistory(request.messages);
    // An empty model turn at the end asks the template for the assistant's next reply.
    history.push({ type: 'model', response: [] });
    const { contextText } = loaded.chatWrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(loaded.model.tokenizer);
  }

  /** Chat messages as node-llama-cpp chat history, each one checked. */
  private chatHistory(messages: ChatMessage[] | undefined): ChatHistoryItem[] {
    if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
    if (messages.length === 0) throw new EmptyPromptError();
    return messages.map((message, index): ChatHistoryItem => {
      if (
        typeof message !== 'object' ||
        message === null ||
        !ROLE_ORDER.has(message.role) ||
        typeof message.content !== 'string'
      ) {
        throw new InvalidArgumentError(
          `messages[${index}] must be { role: 'system' | 'user' | 'assistant', content: string }, got ${JSON.stringify(message)}`,
        );
      }
      if (message.role === 'system') return { type: 'system', text: message.content };
      if (message.role === 'user') return { type: 'user', text: message.content };
      return { type: 'model', response: [message.content] };
    });
  }

  /**
   * Formats a conversation with the model's chat template and marks its assistant turns. The
   * template is rendered once per assistant turn: up to the turn's opening (its start) and up to its
   * text (its end); the token after the text, the end-of-turn marker, belongs to the turn.
   */
  private tokenizeChat(loaded: Loaded, request: TokenizeChatRequest): ChatTokens {
    const messages = request?.messages;
    const history = this.chatHistory(messages);
    const render = (items: ChatHistoryItem[]): Token[] =>
      loaded.chatWrapper.generateContextState({ chatHistory: items }).contextText.tokenize(loaded.model.tokenizer);
    const opener: ChatHistoryItem = { type: 'model', response: [] };
    // Rendering with a next model turn closes every turn, the last assistant one included.
    const full = render([...history, opener]);
    const spans: Array<[number, number]> = [];
    for (const [index, message] of (messages as ChatMessage[]).entries()) {
      if (message.role !== 'assistant') continue;
      const start = commonPrefix(render([...history.slice(0, index), opener]), full);
      const textEnd = commonPrefix(render(history.slice(0, index + 1)), full);
      spans.push([start, Math.min(textEnd + 1, full.length)]);
    }
    const end = spans.at(-1)?.[1] ?? full.length;
    return { tokens: full.slice(0, end) as number[], assistantSpans: spans };
  }

  /**
   * Log-probabilities of given tokens under the model (and adapter set), from `controlledEvaluate`
   * on a slot of that set's context. Tokens are fed in chunks so that an abort stops the work
   * within one chunk; the slot's KV cache is reused for a shared prefix like any prompt's.
   */
  private async score(request: ScoreRequest, context: ActorContext): Promise<ScoreResult> {
    const loaded = await this.ready();
    const tokens = request?.tokens;
    const vocabulary = loaded.info.vocabularySize;
    if (!Array.isArray(tokens) || tokens.length < 2 || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= vocabulary)) {
      throw new InvalidArgumentError(`score needs { tokens: integer[] } of 2 or more ids in 0..${vocabulary - 1}`);
    }
    if (tokens.length > loaded.info.contextSize) throw new PromptTooLongError(tokens.length, loaded.info.contextSize, 0);
    const spans = request.spans ?? [[1, tokens.length]];
    const scored = new Set<number>();
    for (const span of spans) {
      const [start, end] = Array.isArray(span) ? span : [];
      if (!Number.isInteger(start) || !Number.isInteger(end) || (start as number) < 1 || (end as number) > tokens.length || (start as number) > (end as number)) {
        throw new InvalidArgumentError(`score spans must be [start, end) with 1 ≤ start ≤ end ≤ ${tokens.length}, got ${JSON.stringify(span)}`);
      }
      for (let i = start as number; i < (end as number); i++) scored.add(i);
    }
    const method = request.method ?? 'logits';
    if (method !== 'logits' && method !== 'probabilities') {
      throw new InvalidArgumentError(`score method must be "logits" or "probabilities", got ${JSON.stringify(method)}`);
    }
    const first = Math.min(...scored);
    const adapters = request.adapters === undefined ? this.defaultAdapters : resolveAdapterSpecs(request.adapters);
    const signal = AbortSignal.any([context.signal, this.unloadController.signal]);
    const pool = await this.leasePool(loaded, adapters);
    let sequence: PoolSlot;
    try {
      sequence = await pool.scheduler.acquire(context.message.from ?? 'anonymous', signal, (free) => this.chooseSlot(pool, free, undefined, tokens as Token[]));
    } catch (error) {
      this.releasePool(loaded, pool);
      throw error;
    }
    const finished = new Deferred();
    this.active.add(finished.promise);
    try {
      const owner = pool.owners.get(sequence) as SlotOwner;
      owner.session = undefined;
      owner.lastUsed = this.clock.now();
      // The logits of the token before the first scored one are needed, so it must be evaluated.
      const { evaluate, cached } = await this.prepareSlot(sequence, tokens as Token[], first - 1);
      if (sequence instanceof NativeSlot) {
        const targets = evaluate.map((_, i) => (scored.has(cached + i + 1) ? (tokens[cached + i + 1] as Token) : undefined));
        const values = await sequence.score(evaluate, targets, signal);
        const logprobs = targets.flatMap((target, i) => (target === undefined ? [] : [values[i] as number]));
        if (signal.aborted) throw signal.reason instanceof ActorError ? signal.reason : new AbortedError('score', { cause: signal.reason });
        return { logprobs, cachedTokens: cached };
      }
      const logprobs: number[] = [];
      // One batch per call, as a prompt is evaluated: an abort stops the work at the next batch,
      // and smaller calls would cost throughput (32-token calls scored 0.85× as fast, bench/tuner.ts).
      const chunkSize = loaded.settings.batchSize;
      for (let offset = 0; offset < evaluate.length; offset += chunkSize) {
        if (signal.aborted) throw signal.reason instanceof ActorError ? signal.reason : new AbortedError('score', { cause: signal.reason });
        const chunk = evaluate.slice(offset, offset + chunkSize);
        const items: ControlledEvaluateInputItem[] = chunk.map((token, i) => {
          const next = cached + offset + i + 1;
          if (!scored.has(next)) return token;
          const target = tokens[next] as Token;
          return [
            token,
            {
              generateNext:
                method === 'logits'
                  ? { logits: { filter: { tokens: [target], includeTop: 1 } }, totalLogitWeight: true, options: { temperature: 0 } }
                  : { probabilities: true, options: { temperature: 0 } },
            },
          ];
        });
        const outputs = await sequence.controlledEvaluate(items);
        for (const [i, output] of outputs.entries()) {
          const next = cached + offset + i + 1;
          if (!scored.has(next)) continue;
          const target = tokens[next] as Token;
          if (method === 'logits') {
            const logits = output?.next.logits;
            const total = output?.next.totalLogitWeight;
            const logit = logits?.get(target);
            if (!logits || total === undefined || logit === undefined) throw new ModelLoadError(`llama.cpp returned no logits at token ${next}`);
            // log p = logit − log Σ exp(l) = (logit − max) − log Σ exp(l − max), and node-llama-cpp gives Σ exp(l − max).
            const top = Math.max(...logits.values());
            logprobs.push(logit - top - Math.log(total));
          } else {
            const probability = output?.next.probabilities?.get(target) ?? 0;
            logprobs.push(Math.log(probability));
          }
        }
      }
      return { logprobs, cachedTokens: cached };
    } finally {
      pool.scheduler.release(sequence);
      this.releasePool(loaded, pool);
      this.active.delete(finished.promise);
      finished.resolve();
    }
  }

  private grammar(loaded: Loaded, schema: object): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = loaded.llama.createGrammarForJsonSchema(schema as never).catch((error: unknown) => {
        this.grammars.delete(key);
        throw new InvalidArgumentError(`jsonSchema is not usable as a grammar: ${(error as Error).message}`);
      }) as Promise<LlamaGrammar>;
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  private async embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    if (this.options.embeddings === false) throw new EmbeddingsDisabledError();
    const loaded = await this.ready();
    const input = request?.input;
    const texts = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string' || t.length === 0)) {
      throw new InvalidArgumentError('embed needs { input: string | string[] } of non-empty strings');
    }
    const embeddingContextSize = Math.min(loaded.info.contextSize, 2048);
    loaded.embeddingContext ??= loaded.weights().then((model) =>
      model.createEmbeddingContext({ contextSize: embeddingContextSize, threads: loaded.info.threads }),
    );
    const context = await loaded.embeddingContext;
    const embeddings: number[][] = [];
    let promptTokens = 0;
    for (const text of texts) {
      if (signal.aborted) throw new AbortedError('embed', { cause: signal.reason });
      const tokens = loaded.model.tokenize(text);
      if (tokens.length > embeddingContextSize) throw new PromptTooLongError(tokens.length, embeddingContextSize);
      promptTokens += tokens.length;
      embeddings.push([...(await context.getEmbeddingFor(tokens)).vector]);
    }
    return { embeddings, dimensions: embeddings[0]?.length ?? 0, promptTokens };
  }

  private countToken(now: number): void {
    this.tokensGenerated++;
    // Tokens per 100 ms bucket: O(1) per token whatever the rate, unlike a list of timestamps.
    const bucket = Math.floor(now / RATE_BUCKET_MS);
    const last = this.recentTokens.at(-1);
    if (last && last.bucket === bucket) last.count++;
    else {
      this.recentTokens.push({ bucket, count: 1 });
      if (this.recentTokens.length > RATE_WINDOW_MS / RATE_BUCKET_MS + 1) this.recentTokens.shift();
    }
  }

  /** Slots, queue and throughput now. */
  status(): ModelStatus {
    const now = this.clock.now();
    const oldest = Math.floor((now - RATE_WINDOW_MS) / RATE_BUCKET_MS);
    const recent = this.recentTokens.filter((b) => b.bucket > oldest);
    const tokens = recent.reduce((sum, b) => sum + b.count, 0);
    const first = recent[0];
    // From the start of the oldest bucket with tokens to now (at least one bucket long).
    const span = first === undefined ? 0 : Math.max(now - first.bucket * RATE_BUCKET_MS, RATE_BUCKET_MS);
    const pools = [...(this.loaded?.pools.values() ?? [])].filter((pool) => pool.isReady);
    return {
      state: this.state,
      slots: this.loaded?.info.slots ?? this.options.slots ?? 0,
      busySlots: pools.reduce((sum, pool) => sum + pool.scheduler.busy, 0),
      queueDepth: pools.reduce((sum, pool) => sum + pool.scheduler.queueDepth, 0),
      maxQueue: this.options.maxQueue ?? 64,
      completed: this.completed,
      tokensGenerated: this.tokensGenerated,
      tokensPerSecond: span > 0 ? (tokens * 1000) / span : 0,
      contexts: pools.length,
      ...nativeBatching(pools),
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
      for (const pool of loaded.pools.values()) {
        if (pool.isReady) pool.scheduler.rejectAll(new ModelNotReadyError('unloading'));
      }
      await Promise.all(this.active);
      await this.free(loaded);
    }
    this.grammars.clear();
    this.unloadController = new AbortController();
  }

  private async free(loaded: Loaded): Promise<void> {
    const embedding = await loaded.embeddingContext?.catch(() => undefined);
    await embedding?.dispose();
    for (const pool of loaded.pools.values()) {
      if (pool.idleTimer !== undefined) this.clock.clearTimeout(pool.idleTimer);
      const ready = await pool.ready.catch(() => undefined);
      await ready?.context.dispose();
    }
    loaded.pools.clear();
    // Adapter weights belong to the model in node-llama-cpp: they are released here.
    const weights = await loaded.startedWeights()?.catch(() => undefined);
    if (weights !== loaded.model) await weights?.dispose();
    await loaded.model.dispose();
    if (loaded.ownsLlama) await loaded.llama.dispose();
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

/** The native engines' decode counters, summed (absent where none serves the model). */
function nativeBatching(pools: readonly ContextPool[]): Pick<ModelStatus, 'batching'> {
  const engines = pools.map((pool) => pool.context).filter((context) => context instanceof NativeEngine);
  if (engines.length === 0) return {};
  const decodes = engines.reduce((sum, engine) => sum + engine.stats.decodes, 0);
  const tokens = engines.reduce((sum, engine) => sum + engine.stats.decodedTokens, 0);
  return { batching: { decodes, tokens } };
}

/** Leaves optional fields out rather than undefined, so events serialize cleanly. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
