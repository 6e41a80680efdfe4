import type { Logger } from 'pino';
import { Actor } from '../../messaging/Actor.js';
import type { ActorRef } from '../../messaging/ActorRef.js';
import type { Address } from '../../messaging/address.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { Deferred } from '../../messaging/Deferred.js';
import { AbortedError, ActorError, ErrorCode, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import {
  FinishReason,
  StreamEventType,
  type StreamCallback,
  type TokenStreamEventInput,
} from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions } from '../../messaging/types.js';
import { MODEL_DIRECTORY_ADDRESS, ModelDirectoryMessage, modelDirectoryProtocol } from '../ModelDirectory/modelDirectoryProtocol.js';
import { ModelErrorCode, type PromptTooLongError } from '../ModelActor/modelErrors.js';
import { type ModelProtocol, modelProtocol } from '../ModelActor/modelProtocol.js';
import { type ChatMessage, type GenerationUsage, type ModelInfo, ModelMessage, type ToolCall } from '../ModelActor/types.js';
import { ContextOverflowError, PromptNotFoundError } from './sessionErrors.js';
import { sessionProtocol } from './sessionProtocol.js';
import { inputTurns, shiftedStart, turnMessages } from './sessionTurns.js';
import {
  type CompletionEvent,
  type InferenceRequest,
  type InferenceResult,
  type SessionEntity,
  type SessionExport,
  type SessionHistory,
  SessionMessage,
  type SessionStore,
  type StoredSession,
  type Turn,
} from './types.js';

/** Options of {@link SessionActor}. */
export interface SessionActorOptions {
  sessionId: string;
  /** Where the conversation is loaded from and saved to. */
  store: SessionStore;
  /** The model directory the session asks for its model's address. Defaults to `@(model-directory/default)`. */
  models?: Address;
  /** Receives every {@link CompletionEvent}. */
  onCompletion?: (event: CompletionEvent) => void;
  /** Makes a new session from an entity (the SessionManager's fork). */
  fork?: (source: SessionEntity) => Promise<Address>;
  /** Completed prompt ids remembered for `waitForCompletion`. Defaults to `256`. */
  rememberCompletions?: number;
  /** Defaults to the system clock. */
  clock?: Clock;
}

/** Events the model may produce ahead of the turn that relays them. */
const RELAY_HIGH_WATER_MARK = 2;

/** Where a turn's model events go: the stream's consumer, or nowhere for an `ask`. */
type Emit = (event: TokenStreamEventInput) => void | Promise<void>;

/**
 * One conversation. Turns run in the exclusive lane (one at a time, in arrival order) while
 * history, cancel and waitForCompletion are answered beside them; different sessions run in
 * parallel on the model's slots. Each turn sends the conversation to the model with the session id
 * as its KV-cache key, so a continuing conversation evaluates only its new tokens. A turn is a
 * straight pipe: each model event is handed to the caller and awaited before the next is read, so
 * a slow consumer slows the model exactly as it does on a direct stream. A completed turn is
 * persisted before its `done` event (or reply) is sent.
 *
 * The store is the conversation's truth, not this actor: each turn and reset starts from the
 * session as stored and saves only if it is still at the revision it started from, and history,
 * export and fork read it from the store. So several actors of one session, one per front end
 * sharing a store, continue one conversation: turns sent to either in sequence all land, in order;
 * of two turns that overlap, the first to finish is saved and the other fails with
 * `SessionConflictError` (code `SESSION_CONFLICT`) and changes nothing, to be sent again.
 *
 * Created and registered by `SessionManager` at `@(session/<id>)`.
 *
 * @example
 * ```ts
 * router.registerActor('session/chat', new SessionActor({ sessionId: 'chat', store }), SessionActor.actorOptions);
 * const chat = router.ref('session/chat', sessionProtocol);
 * for await (const text of chat.stream(SessionMessage.Inference, { message: 'Hello' }).text) process.stdout.write(text);
 * ```
 */
export class SessionActor extends Actor {
  override readonly protocol = sessionProtocol;
  private logger: Logger | undefined;
  private readonly clock: Clock;
  private current: { promptId: string; controller: AbortController } | undefined;
  private readonly completions = new Map<string, Deferred<CompletionEvent>>();
  private modelInfo: ModelInfo | undefined;

  constructor(private readonly options: SessionActorOptions) {
    super();
    this.clock = options.clock ?? systemClock;
  }

  /** Router options: a bounded mailbox (turns wait in it, in order). */
  static readonly actorOptions: ActorOptions = { mailboxSize: 256 };

  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.logger = context.logger;
    // The session must exist to start (ENTITY_NOT_FOUND otherwise); each turn loads it again.
    await this.options.store.load(this.options.sessionId);
  }

  override onStop(): void {
    this.current?.controller.abort(new AbortedError('turn (session stopping)'));
  }

  /**
   * The session as stored now and its revision: another front end may have added turns since
   * this actor last looked, so nothing of it is kept between messages.
   */
  private reload(signal: AbortSignal): Promise<StoredSession> {
    return this.options.store.load(this.options.sessionId, { signal });
  }

  private async stored(signal: AbortSignal): Promise<SessionEntity> {
    return (await this.reload(signal)).session;
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    switch (message.type) {
      case SessionMessage.Inference:
        return this.turn(message.payload as InferenceRequest, context, () => {});
      case SessionMessage.History:
        return history(await this.stored(context.signal));
      case SessionMessage.Reset: {
        const { session, revision } = await this.reload(context.signal);
        const reset = { ...session, turns: [], contextStart: 0, updatedAt: this.clock.now() };
        await this.persist(reset, revision);
        return history(reset);
      }
      case SessionMessage.Fork: {
        if (!this.options.fork) throw new InvalidArgumentError('this session cannot fork: it has no SessionManager');
        return this.options.fork(await this.stored(context.signal));
      }
      case SessionMessage.Export:
        return { format: 'llama-actors.session', version: 1, session: await this.stored(context.signal) } satisfies SessionExport;
      case SessionMessage.Cancel: {
        const current = this.current;
        current?.controller.abort(new AbortedError('turn (cancelled)'));
        return { cancelled: current?.promptId ?? null };
      }
      case SessionMessage.WaitForCompletion:
        return this.waitForCompletion((message.payload as { promptId?: unknown })?.promptId, context);
      default:
        return super.receive(message, context);
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    if (context.message.type !== SessionMessage.Inference) {
      throw new UnsupportedMessageError(this.options.sessionId, context.message.type);
    }
    await this.turn(payload as InferenceRequest, context, onChunk);
  }

  /**
   * One turn: its tokens go to `emit` as the model produces them, then `done` once the turn is
   * persisted. Cancellable by the caller's signal and by `cancel`. Failures throw (the router turns
   * them into the stream's error event, or the ask's rejection) and leave the history unchanged.
   */
  private async turn(request: InferenceRequest, context: ActorContext, emit: Emit): Promise<InferenceResult> {
    const promptId = request?.promptId ?? context.message.id;
    if (typeof promptId !== 'string' || promptId.length === 0) throw new InvalidArgumentError('promptId must be a non-empty string');
    const completion = this.completion(promptId);
    const controller = new AbortController();
    this.current = { promptId, controller };
    try {
      const result = await this.runTurn(request, promptId, context, AbortSignal.any([context.signal, controller.signal]), emit);
      this.complete(completion, promptId, { success: true, finishReason: result.finishReason });
      return result;
    } catch (error) {
      this.complete(completion, promptId, { success: false, error });
      throw error;
    } finally {
      if (this.current?.promptId === promptId) this.current = undefined;
    }
  }

  private async runTurn(
    request: InferenceRequest,
    promptId: string,
    context: ActorContext,
    signal: AbortSignal,
    emit: Emit,
  ): Promise<InferenceResult> {
    if (signal.aborted) throw abortReason(signal);
    const { session, revision } = await this.reload(signal);
    const added = inputTurns(request, session.turns, promptId, this.clock.now());
    const model = await this.model(session, context, signal);
    const info = await this.info(model, signal);
    const params = { ...session.params, ...request.params };
    // Room to answer: the turn's maxTokens (256 by default), but never more than half the context.
    const reserve = Math.max(1, Math.min(params.maxTokens ?? 256, Math.floor(info.contextSize / 2)));
    const system = request.system ?? session.systemPrompt;
    const tools = toolFields(request);
    const startedShifted = session.contextStart ?? 0;
    let contextStart = startedShifted;
    for (;;) {
      const messages: ChatMessage[] = [
        ...(system === undefined ? [] : [{ role: 'system' as const, content: system }]),
        ...turnMessages([...session.turns.slice(contextStart), ...added]),
      ];
      const reply = await this.relay(model, { messages, params, ...tools, session: session.id, minFreeTokens: reserve }, signal, emit);
      if ('overflow' in reply) {
        // Shift: drop the oldest exchange (a user turn and its reply) and try again.
        const remaining = session.turns.length - contextStart;
        if ((session.overflow ?? 'shift') === 'error' || remaining === 0) {
          throw new ContextOverflowError(
            reply.overflow.promptTokens ?? 0,
            info.contextSize,
            remaining === 0 ? 'the message alone does not fit' : 'the session refuses to drop turns (overflow: error)',
          );
        }
        contextStart = shiftedStart(session.turns, contextStart);
        continue;
      }
      const { text, usage, finishReason, toolCalls } = reply;
      const calls = toolCalls && toolCalls.length > 0 ? { toolCalls } : {};
      const assistantTurn: Turn = { role: 'assistant', content: text, ...calls, promptId, at: this.clock.now() };
      // Persisted before the turn is reported done: a reported turn survives a crash.
      await this.persist({ ...session, turns: [...session.turns, ...added, assistantTurn], contextStart, updatedAt: this.clock.now() }, revision);
      await emit({
        type: StreamEventType.Done,
        finishReason,
        ...(usage ? { usage, tokensPerSecond: usage.tokensPerSecond } : {}),
        ...(toolCalls && toolCalls.length > 0 ? { data: { toolCalls } } : {}),
      });
      return { promptId, text, ...calls, finishReason, ...(usage ? { usage } : {}), shiftedTurns: contextStart - startedShifted };
    }
  }

  /**
   * Streams one generation from the model, handing each token to `emit` and awaiting it before the
   * next is read (backpressure reaches the model). A prompt that does not fit, before any token,
   * comes back as `overflow` so that the turn can shift and retry.
   */
  private async relay(
    model: ActorRef<ModelProtocol>,
    payload: ModelProtocol[typeof ModelMessage.Generate]['payload'],
    signal: AbortSignal,
    emit: Emit,
  ): Promise<{ text: string; usage: GenerationUsage | undefined; finishReason: FinishReason; toolCalls?: ToolCall[] } | { overflow: PromptTooLongError }> {
    // A short buffer between the model and this turn: the caller's own stream is the buffer that
    // counts, and the model must not run ahead of it by the router's default 64 events.
    const stream = model.stream(ModelMessage.Generate, payload, { signal, highWaterMark: RELAY_HIGH_WATER_MARK });
    let text = '';
    let usage: GenerationUsage | undefined;
    let finishReason: FinishReason = FinishReason.Stop;
    let toolCalls: ToolCall[] | undefined;
    for await (const event of stream) {
      if (event.type === StreamEventType.Token) {
        text += event.content ?? '';
        await emit(event);
      } else if (event.type === StreamEventType.Done) {
        usage = event.usage;
        finishReason = event.finishReason ?? FinishReason.Stop;
        toolCalls = event.data?.toolCalls;
      } else if (event.type === StreamEventType.Error) {
        if (event.code === ModelErrorCode.PromptTooLong && text.length === 0 && !toolCalls) {
          return { overflow: stream.stats.error as PromptTooLongError };
        }
        throw signal.aborted ? abortReason(signal) : (stream.stats.error ?? new ActorError(ErrorCode.ActorFailed, event.error ?? 'model failed'));
      }
    }
    return { text, usage, finishReason, ...(toolCalls ? { toolCalls } : {}) };
  }

  /** The session's model, started if it is not running yet: asked of the model directory. */
  private async model(session: SessionEntity, context: ActorContext, signal: AbortSignal): Promise<ActorRef<ModelProtocol>> {
    const directory = context.router.ref(this.options.models ?? MODEL_DIRECTORY_ADDRESS, modelDirectoryProtocol);
    const model = await directory.ask(ModelDirectoryMessage.EnsureStarted, { model: String(session.model) }, {
      signal,
      timeout: Number.POSITIVE_INFINITY,
    });
    return context.router.ref(model, modelProtocol);
  }

  private async info(model: ActorRef<ModelProtocol>, signal: AbortSignal): Promise<ModelInfo> {
    this.modelInfo ??= await model.ask(ModelMessage.Info, null, { timeout: Number.POSITIVE_INFINITY, signal });
    return this.modelInfo;
  }

  /** Saves `entity` if the stored session is still at `revision` (else SESSION_CONFLICT, nothing changed). */
  private async persist(entity: SessionEntity, revision: number): Promise<void> {
    await this.options.store.save(entity, revision);
  }

  private completion(promptId: string): Deferred<CompletionEvent> {
    let deferred = this.completions.get(promptId);
    if (!deferred) {
      deferred = new Deferred();
      this.completions.set(promptId, deferred);
    }
    return deferred;
  }

  private complete(
    deferred: Deferred<CompletionEvent>,
    promptId: string,
    outcome: { success: boolean; finishReason?: FinishReason; error?: unknown },
  ): void {
    const event: CompletionEvent = {
      sessionId: this.options.sessionId,
      promptId,
      success: outcome.success,
      ...(outcome.finishReason ? { finishReason: outcome.finishReason } : {}),
      ...(outcome.error !== undefined
        ? {
            error: {
              code: outcome.error instanceof ActorError ? outcome.error.code : ErrorCode.ActorFailed,
              message: outcome.error instanceof Error ? outcome.error.message : String(outcome.error),
            },
          }
        : {}),
      timestamp: this.clock.now(),
    };
    deferred.resolve(event);
    try {
      this.options.onCompletion?.(event);
    } catch (error) {
      this.logger?.error({ err: error }, 'completion listener threw');
    }
    // Remember a bounded number of finished prompts for late waitForCompletion calls.
    const limit = this.options.rememberCompletions ?? 256;
    if (this.completions.size > limit) {
      const oldest = this.completions.keys().next().value;
      if (oldest !== undefined && oldest !== promptId) this.completions.delete(oldest);
    }
  }

  private async waitForCompletion(promptId: unknown, context: ActorContext): Promise<CompletionEvent> {
    if (typeof promptId !== 'string') throw new InvalidArgumentError('wait-for-completion needs { promptId: string }');
    const signal = context.signal;
    // A turn still waiting in the mailbox is known too: its completion is made now and kept for it.
    const queued = context.waiting().some((waiting) => waiting.type === SessionMessage.Inference && promptIdOf(waiting) === promptId);
    const deferred = queued ? this.completion(promptId) : this.completions.get(promptId);
    if (!deferred) throw new PromptNotFoundError(promptId);
    if (signal.aborted) throw abortReason(signal);
    return new Promise<CompletionEvent>((resolve, reject) => {
      const onAbort = () => reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      deferred.promise.then((event) => {
        signal.removeEventListener('abort', onAbort);
        resolve(event);
      });
    });
  }
}

/** The conversation as `history` answers it. */
function history(session: SessionEntity): SessionHistory {
  const { systemPrompt, turns, contextStart } = session;
  return {
    ...(systemPrompt === undefined ? {} : { systemPrompt }),
    turns: structuredClone(turns),
    contextStart: contextStart ?? 0,
  };
}

/** The tool fields of a turn's request, passed to the model as they are (it checks them). */
function toolFields(request: InferenceRequest) {
  return {
    ...(request.tools === undefined ? {} : { tools: request.tools }),
    ...(request.toolChoice === undefined ? {} : { toolChoice: request.toolChoice }),
    ...(request.parallelToolCalls === undefined ? {} : { parallelToolCalls: request.parallelToolCalls }),
  };
}

/** The prompt id a turn message will run under: its own `promptId`, else the message's id. */
function promptIdOf(message: Message): string {
  const promptId = (message.payload as { promptId?: unknown } | null)?.promptId;
  return typeof promptId === 'string' && promptId.length > 0 ? promptId : message.id;
}

function abortReason(signal: AbortSignal): ActorError {
  return signal.reason instanceof ActorError ? signal.reason : new AbortedError('turn', { cause: signal.reason });
}
