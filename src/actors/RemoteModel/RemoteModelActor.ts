import OpenAI from 'openai';
import type { Logger } from 'pino';
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { ActorError, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import type { StreamCallback, TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions } from '../../messaging/types.js';
import { generationReplies } from '../ModelActor/generationReplies.js';
import { ModelNotReadyError } from '../ModelActor/modelErrors.js';
import { modelProtocol } from '../ModelActor/modelProtocol.js';
import { type EmbedRequest, type EmbedResult, type GenerateRequest, ModelLifecycleState, ModelMessage, type ModelInfo, type ModelStatus } from '../ModelActor/types.js';
import { callUpstream } from './callUpstream.js';
import { NotSupportedByProviderError, type UpstreamOrigin } from './remoteErrors.js';
import { type RemoteEnvironment, remoteGeneration } from './remoteGeneration.js';
import { type RemoteCallContext, remoteDetokenize, remoteInfo, remoteTokenize } from './remoteInfo.js';
import { RequestGate } from './RequestGate.js';
import type { RemoteModelOptions, RemoteModelStatus } from './types.js';

const PROVIDER = 'openai-compatible';

/**
 * A model on a remote OpenAI-compatible server (vLLM, llama.cpp's llama-server, Ollama, a hosted
 * API, another llama-actors), behind the same {@link modelProtocol} as a local ModelActor: sessions,
 * the server's routes and the CLI use it unchanged. Generations stream over SSE through the
 * `openai` client; at most `maxConcurrent` are in flight upstream and `maxQueue` wait (then
 * `QUEUE_FULL`); an abort ends the upstream request at once, so the remote frees its slot. Upstream
 * failures come back typed (`PROVIDER_AUTH_FAILED`, `MODEL_NOT_FOUND`, `RATE_LIMITED`,
 * `PROVIDER_UNAVAILABLE`, `PROVIDER_TIMEOUT`); what a remote cannot do (adapters, scoring, chat
 * tokenization) is `NOT_SUPPORTED_BY_PROVIDER`.
 *
 * @example
 * ```ts
 * const remote = new RemoteModelActor({ baseURL: 'http://127.0.0.1:8080/v1', model: 'qwen', maxConcurrent: 4 });
 * const llm = router.ref(router.registerActor('model/qwen', remote, remote.actorOptions), modelProtocol);
 * const { text } = await llm.ask(ModelMessage.Generate, { messages: [{ role: 'user', content: 'Hi' }] });
 * ```
 */
export class RemoteModelActor extends Actor implements AsyncDisposable {
  override readonly protocol = modelProtocol;
  private readonly options: RemoteModelOptions;
  private readonly client: OpenAI;
  private readonly gate: RequestGate;
  private readonly clock: Clock;
  private readonly origin: UpstreamOrigin;
  private readonly counters = { requests: 0, retries: 0, failures: 0, completed: 0, tokensGenerated: 0 };
  private lastError: RemoteModelStatus['lastError'];
  private logger: Logger | undefined;
  private info: Promise<ModelInfo> | undefined;
  /** Fires for every request in flight when the actor stops. */
  private readonly stopping = new AbortController();
  private state: ModelLifecycleState = ModelLifecycleState.Ready;
  /** The model's id in this runtime, for messages; its remote name until the actor starts. */
  private name: string;
  /** `options.timeoutMs` with its default. */
  private readonly timeoutMs: number;

  constructor(options: RemoteModelOptions) {
    super();
    if (typeof options?.baseURL !== 'string' || !/^https?:\/\//.test(options.baseURL)) {
      throw new InvalidArgumentError(`RemoteModelActor needs a baseURL starting with http:// or https://, got ${JSON.stringify(options?.baseURL)}`);
    }
    if (typeof options.model !== 'string' || options.model.length === 0) throw new InvalidArgumentError('RemoteModelActor needs the model name on the remote');
    for (const name of ['maxConcurrent', 'maxQueue', 'contextSize', 'timeoutMs', 'maxRetries', 'maxRetryDelayMs'] as const) {
      const value = options[name];
      const min = name === 'maxQueue' || name === 'maxRetries' || name === 'maxRetryDelayMs' ? 0 : 1;
      if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
    }
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.origin = { baseURL: options.baseURL.replace(/\/+$/, ''), model: options.model };
    this.name = options.model;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.gate = new RequestGate(options.maxConcurrent ?? 4, options.maxQueue ?? 64);
    this.client = new OpenAI({
      baseURL: this.origin.baseURL,
      // Never the environment's OPENAI_* values: a remote without a key must not be sent this process's OpenAI key.
      apiKey: options.apiKey ?? 'none',
      adminAPIKey: null,
      organization: null,
      project: null,
      maxRetries: 0,
      timeout: this.timeoutMs,
      defaultHeaders: { ...options.headers, ...(options.apiKey === undefined ? { Authorization: null } : {}) },
    });
  }

  /** Router options: a mailbox with room for every request in flight and queued (admission is the gate's). */
  get actorOptions(): ActorOptions {
    return { mailboxSize: Math.max(1_000, this.gate.maxConcurrent + this.gate.maxQueue) };
  }

  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.logger ??= context.logger;
    // Errors name the model as callers know it here (`@(model/qwen)` → `qwen`), not its remote name.
    this.name = context.self.slice(2, -1).replace(/^model\//, '');
    context.reportState(this.state, { remote: this.origin.baseURL });
  }

  /** Ends every upstream request and fails the queued ones. */
  override async onStop(): Promise<void> {
    await this.dispose();
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    const payload = message.payload;
    const signal = this.signal(context.signal);
    switch (message.type) {
      case ModelMessage.Generate:
        return generationReplies.result(remoteGeneration(this.environment(), payload as GenerateRequest, signal), signal);
      case ModelMessage.Embed:
        return this.embed(payload as EmbedRequest, signal);
      case ModelMessage.Tokenize: {
        const { text } = (payload ?? {}) as { text?: unknown };
        if (typeof text !== 'string') throw new InvalidArgumentError('tokenize needs { text: string }');
        return remoteTokenize(this.callContext(), text, signal);
      }
      case ModelMessage.Detokenize: {
        const { tokens } = (payload ?? {}) as { tokens?: unknown };
        if (!Array.isArray(tokens) || tokens.some((t) => !Number.isInteger(t) || t < 0)) throw new InvalidArgumentError('detokenize needs { tokens: integer[] }');
        return remoteDetokenize(this.callContext(), tokens, signal);
      }
      case ModelMessage.Info:
        return this.modelInfo(signal);
      case ModelMessage.Status:
        return this.status();
      case ModelMessage.ListAdapters:
        return { applied: [], contexts: [], maxContexts: 0 };
      case ModelMessage.ApplyAdapter:
      case ModelMessage.RemoveAdapter:
      case ModelMessage.SetAdapterScale:
      case ModelMessage.ValidateAdapter:
        throw new NotSupportedByProviderError('LoRA adapters', PROVIDER, 'the remote server applies no adapters of this runtime');
      case ModelMessage.Score:
        throw new NotSupportedByProviderError('scoring', PROVIDER, 'OpenAI-compatible APIs give the logprobs of generated tokens, not of given ones');
      case ModelMessage.TokenizeChat:
      case ModelMessage.CountPromptTokens:
        throw new NotSupportedByProviderError(message.type, PROVIDER, "the chat template is the remote's own");
      default:
        return super.receive(message, context);
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    if (context.message.type !== ModelMessage.Generate) throw new UnsupportedMessageError(context.self.slice(2, -1), context.message.type);
    await generationReplies.stream(remoteGeneration(this.environment(), payload as GenerateRequest, this.signal(context.signal)), onChunk);
  }

  /** Requests in flight upstream, queued, retries and the last upstream error. */
  status(): ModelStatus {
    return {
      state: this.state,
      slots: this.gate.maxConcurrent,
      busySlots: this.gate.inFlight,
      queueDepth: this.gate.queued,
      maxQueue: this.gate.maxQueue,
      completed: this.counters.completed,
      tokensGenerated: this.counters.tokensGenerated,
      tokensPerSecond: 0,
      contexts: 0,
      remote: {
        ...this.origin,
        inFlight: this.gate.inFlight,
        queued: this.gate.queued,
        maxConcurrent: this.gate.maxConcurrent,
        requests: this.counters.requests,
        retries: this.counters.retries,
        failures: this.counters.failures,
        ...(this.lastError ? { lastError: { ...this.lastError } } : {}),
      },
    };
  }

  /** Stops for good: in-flight requests end (their upstream requests closed), queued ones fail. Idempotent. */
  async dispose(): Promise<void> {
    if (this.state === ModelLifecycleState.Disposed) return;
    this.state = ModelLifecycleState.Disposed;
    this.stopping.abort(new ModelNotReadyError('stopping'));
    this.gate.rejectQueued(new ModelNotReadyError('stopping'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private signal(request: AbortSignal): AbortSignal {
    return AbortSignal.any([request, this.stopping.signal]);
  }

  private environment(): RemoteEnvironment {
    return {
      client: this.client,
      origin: this.origin,
      gate: this.gate,
      clock: this.clock,
      model: this.origin.model,
      name: this.name,
      vision: this.options.vision === true,
      defaultParams: this.options.defaultParams,
      timeoutMs: this.timeoutMs,
      maxRetries: this.options.maxRetries ?? 2,
      maxRetryDelayMs: this.options.maxRetryDelayMs ?? 10_000,
      counters: this.counters,
      failed: (error) => this.recordFailure(error),
    };
  }

  private callContext(): RemoteCallContext {
    return {
      client: this.client,
      origin: this.origin,
      timeoutMs: this.timeoutMs,
      slots: this.gate.maxConcurrent,
      vision: this.options.vision === true,
      contextSize: this.options.contextSize,
    };
  }

  /** Asked once and kept; a failure is not kept, so the next ask tries again. */
  private modelInfo(signal: AbortSignal): Promise<ModelInfo> {
    this.info ??= remoteInfo(this.callContext(), signal).catch((error: unknown) => {
      this.info = undefined;
      throw error;
    });
    return this.info;
  }

  private async embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
    const input = request?.input;
    if (typeof input !== 'string' && !(Array.isArray(input) && input.every((i) => typeof i === 'string'))) {
      throw new InvalidArgumentError('embed needs { input: string | string[] }');
    }
    using _pass = await this.gate.acquire(signal);
    this.counters.requests += 1;
    const onRetry = (): void => {
      this.counters.requests += 1;
      this.counters.retries += 1;
    };
    try {
      const reply = await callUpstream({ origin: this.origin, signal, timeoutMs: this.timeoutMs, onRetry }, () =>
        this.client.embeddings.create({ model: this.origin.model, input, encoding_format: 'float' }, { signal, timeout: this.timeoutMs, maxRetries: 0 }),
      );
      const embeddings = [...reply.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { embeddings, dimensions: embeddings[0]?.length ?? 0, promptTokens: reply.usage?.prompt_tokens ?? 0 };
    } catch (error) {
      if (!signal.aborted && error instanceof ActorError) {
        this.counters.failures += 1;
        this.recordFailure(error);
      }
      throw error;
    }
  }

  private recordFailure(error: ActorError): void {
    this.lastError = { code: error.code, message: error.message, at: this.clock.now() };
    this.logger?.warn({ err: error, remote: this.origin.baseURL, model: this.origin.model }, 'remote request failed');
  }
}
