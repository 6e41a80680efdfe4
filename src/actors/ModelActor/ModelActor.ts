import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  type Llama,
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
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { Deferred } from '../../messaging/Deferred.js';
import { AbortedError, ActorError, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import { FinishReason, type StreamCallback, type TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions, StateReporter } from '../../messaging/types.js';
import { createModelLifecycle, type ModelLifecycle, ModelLifecycleEvent } from './modelLifecycle.js';
import {
  EmbeddingsDisabledError,
  EmptyPromptError,
  InvalidModelFileError,
  ModelFileNotFoundError,
  ModelLoadError,
  ModelNotReadyError,
  PromptTooLongError,
} from './modelErrors.js';
import { type ResolvedGenerationParams, resolveGenerationParams } from './resolveGenerationParams.js';
import { SlotScheduler } from './SlotScheduler.js';
import { TokenTextDecoder } from './TokenTextDecoder.js';
import {
  type ChatMessage,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerationUsage,
  ModelLifecycleState,
  ModelMessage,
  type ModelActorOptions,
  type ModelInfo,
  type ModelStatus,
} from './types.js';

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

/** What exists while the model is loaded. */
/** What a slot's KV cache belongs to, for affinity. */
interface SlotOwner {
  session: string | undefined;
  lastUsed: number;
}

interface Loaded {
  llama: Llama;
  ownsLlama: boolean;
  model: LlamaModel;
  context: LlamaContext;
  scheduler: SlotScheduler<LlamaContextSequence>;
  owners: Map<LlamaContextSequence, SlotOwner>;
  chatWrapper: ChatWrapper;
  info: ModelInfo;
  embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
}

const ROLE_ORDER = new Set(['system', 'user', 'assistant']);
const RATE_WINDOW_MS = 5_000;
const RATE_BUCKET_MS = 100;

/** Default CPU threads: all cores but one, at least one (see README, "Threads"). */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** Default parallel sequences: 8 on a GPU; on CPU two per core, capped at 8. */
export function defaultSlots(gpu: boolean, cores = availableParallelism()): number {
  return gpu ? 8 : Math.min(8, Math.max(2, cores * 2));
}

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

  constructor(options: ModelActorOptions) {
    super();
    if (typeof options?.modelPath !== 'string' || options.modelPath.length === 0) {
      throw new InvalidArgumentError('ModelActor needs a modelPath');
    }
    for (const name of ['slots', 'maxQueue', 'contextSize', 'batchSize', 'threads'] as const) {
      const value = options[name];
      if (value !== undefined && (!Number.isInteger(value) || value < (name === 'maxQueue' ? 0 : 1))) {
        throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
      }
    }
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
          throw error;
        },
      );
    }
    return this.loading.then((loaded) => loaded.info);
  }

  private async doLoad(): Promise<Loaded> {
    const path = this.options.modelPath;
    await checkGgufFile(path);
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
    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: path,
        gpuLayers: this.options.gpuLayers ?? 'auto',
        onLoadProgress: (progress: number) => {
          this.options.onLoadProgress?.(progress);
          this.stateReporter?.(ModelLifecycleState.Loading, { model: path, progress });
        },
      });
    } catch (error) {
      if (ownsLlama) await llama.dispose();
      throw new InvalidModelFileError(path, `llama.cpp refused it: ${(error as Error).message}`);
    }
    try {
      const gpu = llama.gpu !== false;
      const slots = this.options.slots ?? defaultSlots(gpu);
      const threads = this.options.threads ?? (gpu ? 0 : defaultThreads());
      const contextSize = this.options.contextSize ?? Math.min(model.trainContextSize, 4096);
      const batchSize = this.options.batchSize ?? Math.min(512, contextSize);
      const flashAttention = this.options.flashAttention ?? (gpu ? 'auto' : false);
      const context = await model.createContext({ contextSize, sequences: slots, threads, batchSize, flashAttention });
      const sequences = Array.from({ length: slots }, () => context.getSequence());
      const info: ModelInfo = {
        path,
        architecture: model.fileInfo.metadata.general?.architecture,
        name: model.fileInfo.metadata.general?.name,
        contextSize: context.contextSize,
        trainContextSize: model.trainContextSize,
        vocabularySize: (model.fileInfo.metadata.tokenizer?.ggml?.tokens as unknown[] | undefined)?.length ?? 0,
        embeddingSize: model.embeddingVectorSize,
        sizeBytes: (await stat(path)).size,
        parameters: model.fileInsights.totalParameters,
        gpu: llama.gpu,
        gpuLayers: model.gpuLayers,
        threads: context.currentThreads,
        slots,
        batchSize: context.batchSize,
        localBuild: llama.buildType === 'localBuild',
        chatTemplate: '',
      };
      const chatWrapper = resolveChatWrapper(model);
      info.chatTemplate = chatWrapper.wrapperName;
      return {
        llama,
        ownsLlama,
        model,
        context,
        scheduler: new SlotScheduler(sequences, this.options.maxQueue ?? 64),
        owners: new Map(sequences.map((sequence) => [sequence, { session: undefined, lastUsed: 0 }])),
        chatWrapper,
        info,
        embeddingContext: undefined,
      };
    } catch (error) {
      await model.dispose();
      if (ownsLlama) await llama.dispose();
      throw new ModelLoadError(`could not create a context for ${path}: ${(error as Error).message}`, { cause: error });
    }
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

    const signal = AbortSignal.any([context.signal, this.unloadController.signal]);
    const key = request.fairnessKey ?? request.session ?? context.message.from ?? 'anonymous';
    const queuedAt = this.clock.now();
    const sequence = await loaded.scheduler.acquire(key, signal, (free) => this.chooseSlot(loaded, free, request.session));
    // unload() waits on this: the slot is back only when the generator's finally has run.
    const finished = new Deferred();
    this.active.add(finished.promise);
    const queueMs = this.clock.now() - queuedAt;
    try {
      const owner = loaded.owners.get(sequence) as SlotOwner;
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
      const evaluation = sequence.evaluateWithMetadata(
        evaluate,
        { confidence: request.logprobs === true },
        evaluateOptions(params, generated, grammar ? new LlamaGrammarEvaluationState({ model: loaded.model, grammar }) : undefined),
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
        generated.push(output.token);
        this.countToken(now);
        const piece = decoder.push(output.token);
        text += piece.text;
        const confidence = (output as { confidence?: number }).confidence;
        yield {
          text: piece.text,
          tokenId: output.token,
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
      loaded.scheduler.release(sequence);
      this.active.delete(finished.promise);
      finished.resolve();
    }
  }

  /**
   * Picks a free slot: the one holding this session's KV cache if free, else the least recently
   * used one (whose cache is the least likely to be wanted again).
   */
  private chooseSlot(loaded: Loaded, free: readonly LlamaContextSequence[], session: string | undefined): number {
    let best = -1;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [index, sequence] of free.entries()) {
      const owner = loaded.owners.get(sequence) as SlotOwner;
      if (session !== undefined && owner.session === session) return index;
      if (owner.lastUsed < oldest) {
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
    sequence: LlamaContextSequence,
    prompt: Token[],
  ): Promise<{ evaluate: Token[]; cached: number }> {
    if (this.options.reuseKvCache === false) {
      await sequence.clearHistory();
      return { evaluate: prompt, cached: 0 };
    }
    const existing = sequence.contextTokens;
    let common = 0;
    const limit = Math.min(existing.length, prompt.length - 1);
    while (common < limit && existing[common] === prompt[common]) common++;
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
    const messages = request.messages as ChatMessage[];
    if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
    if (messages.length === 0) throw new EmptyPromptError();
    const history: ChatHistoryItem[] = messages.map((message, index) => {
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
    // An empty model turn at the end asks the template for the assistant's next reply.
    history.push({ type: 'model', response: [] });
    const { contextText } = loaded.chatWrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(loaded.model.tokenizer);
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
    loaded.embeddingContext ??= loaded.model.createEmbeddingContext({
      contextSize: embeddingContextSize,
      threads: loaded.info.threads,
    });
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
    const scheduler = this.loaded?.scheduler;
    return {
      state: this.state,
      slots: this.loaded?.info.slots ?? this.options.slots ?? 0,
      busySlots: scheduler?.busy ?? 0,
      queueDepth: scheduler?.queueDepth ?? 0,
      maxQueue: this.options.maxQueue ?? 64,
      completed: this.completed,
      tokensGenerated: this.tokensGenerated,
      tokensPerSecond: span > 0 ? (tokens * 1000) / span : 0,
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
      loaded.scheduler.rejectAll(new ModelNotReadyError('unloading'));
      await Promise.all(this.active);
      await this.free(loaded);
    }
    this.grammars.clear();
    this.unloadController = new AbortController();
  }

  private async free(loaded: Loaded): Promise<void> {
    const embedding = await loaded.embeddingContext?.catch(() => undefined);
    await embedding?.dispose();
    await loaded.context.dispose();
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

/** Sampling options for node-llama-cpp; the repeat penalty reads the tokens generated so far. */
function evaluateOptions(
  params: ResolvedGenerationParams,
  generated: Token[],
  grammarEvaluationState: LlamaGrammarEvaluationState | undefined,
) {
  const penalty = params.repeatPenalty;
  return {
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    minP: params.minP,
    ...(params.seed === undefined ? {} : { seed: params.seed }),
    ...(grammarEvaluationState ? { grammarEvaluationState } : {}),
    ...(penalty && penalty.lastTokens > 0
      ? {
          repeatPenalty: {
            punishTokens: () => generated.slice(-penalty.lastTokens),
            maxPunishTokens: penalty.lastTokens,
            penalty: penalty.penalty,
            frequencyPenalty: penalty.frequencyPenalty,
            presencePenalty: penalty.presencePenalty,
          },
        }
      : {}),
  };
}

/** Leaves optional fields out rather than undefined, so events serialize cleanly. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Checks that `path` exists and starts with the GGUF magic, before llama.cpp sees it. */
async function checkGgufFile(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelFileNotFoundError(path);
    throw new InvalidModelFileError(path, (error as Error).message);
  }
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead < 4 || magic.toString('latin1') !== 'GGUF') {
      throw new InvalidModelFileError(path, `starts with ${JSON.stringify(magic.subarray(0, bytesRead).toString('latin1'))}, not "GGUF"`);
    }
  } finally {
    await handle.close();
  }
}
