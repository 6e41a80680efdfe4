import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import { ContextOverflowError, EntityNotFoundError, PromptNotFoundError } from '../../entities/entityErrors.js';
import type { ModelManager } from '../../entities/ModelManager.js';
import type { Store } from '../../entities/store/Store.js';
import { EntityCollection, type SessionEntity, type Turn } from '../../entities/types.js';
import { Actor } from '../../messaging/Actor.js';
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
import { ModelErrorCode } from '../ModelActor/modelErrors.js';
import {
  type ChatMessage,
  type GenerationUsage,
  type ModelInfo,
  ModelMessage,
} from '../ModelActor/types.js';
import {
  type CompletionEvent,
  type InferenceRequest,
  type InferenceResult,
  type SessionExport,
  type SessionHistory,
  SessionMessage,
} from './types.js';

/** Options of {@link SessionActor}. */
export interface SessionActorOptions {
  sessionId: string;
  store: Store;
  models: ModelManager;
  /** Receives every {@link CompletionEvent}. */
  onCompletion?: (event: CompletionEvent) => void;
  /** Makes a new session from an entity (the SessionManager's fork). */
  fork?: (source: SessionEntity) => Promise<Address>;
  /** Completed prompt ids remembered for `waitForCompletion`. Defaults to `256`. */
  rememberCompletions?: number;
  clock?: Clock;
}

/** One token of a turn, or the turn's end. */
type TurnStep = { token: TokenStreamEventInput } | { end: InferenceResult };

/**
 * One conversation. Turns are serialized (one at a time, in arrival order) while other messages
 * (history, cancel, waitForCompletion) are answered meanwhile; different sessions run in parallel
 * on the model's slots. Each turn sends the conversation to the model with the session id as its
 * KV-cache key, so a continuing conversation evaluates only its new tokens. A completed turn is
 * persisted before its `done` event (or reply) is sent.
 *
 * Created and registered by `SessionManager`; register it yourself with {@link SessionActor.actorOptions}.
 */
export class SessionActor extends Actor {
  private entity: SessionEntity | undefined;
  private logger: Logger | undefined;
  private readonly clock: Clock;
  /** The tail of the turn queue: each turn starts when the one before it has settled. */
  private turnChain: Promise<unknown> = Promise.resolve();
  private current: { promptId: string; controller: AbortController } | undefined;
  private readonly completions = new Map<string, Deferred<CompletionEvent>>();
  private modelInfo: ModelInfo | undefined;

  constructor(private readonly options: SessionActorOptions) {
    super();
    this.clock = options.clock ?? systemClock;
  }

  /** Router options: room for control messages beside the turn in flight. */
  static readonly actorOptions: ActorOptions = { concurrency: 16, mailboxSize: 256 };

  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.logger = context.logger;
    const entity = await this.options.store.get<SessionEntity>(EntityCollection.Sessions, this.options.sessionId);
    if (!entity) throw new EntityNotFoundError(EntityCollection.Sessions, this.options.sessionId);
    this.entity = entity;
  }

  override onStop(): void {
    this.current?.controller.abort(new AbortedError('turn (session stopping)'));
  }

  private get session(): SessionEntity {
    if (!this.entity) throw new EntityNotFoundError(EntityCollection.Sessions, this.options.sessionId);
    return this.entity;
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    switch (message.type) {
      case SessionMessage.Inference: {
        const turn = this.turn(message.payload as InferenceRequest, context);
        for (let step = await turn.next(); ; step = await turn.next()) {
          if (step.done) return step.value;
        }
      }
      case SessionMessage.History:
        return this.history();
      case SessionMessage.Reset:
        return this.enqueue(async () => {
          await this.persist({ ...this.session, turns: [], contextStart: 0 });
          return this.history();
        });
      case SessionMessage.Fork: {
        if (!this.options.fork) throw new InvalidArgumentError('this session cannot fork: it has no SessionManager');
        return this.options.fork(structuredClone(this.session));
      }
      case SessionMessage.Export:
        return { format: 'llama-actors.session', version: 1, session: structuredClone(this.session) } satisfies SessionExport;
      case SessionMessage.Cancel: {
        const current = this.current;
        current?.controller.abort(new AbortedError('turn (cancelled)'));
        return { cancelled: current?.promptId ?? null };
      }
      case SessionMessage.WaitForCompletion:
        return this.waitForCompletion((message.payload as { promptId?: unknown })?.promptId, context.signal);
      default:
        return super.receive(message, context);
    }
  }

  override async stream(
    payload: unknown,
    onChunk: StreamCallback<TokenStreamEventInput>,
    context: ActorContext,
  ): Promise<void> {
    if (context.message.type !== SessionMessage.Inference) {
      throw new UnsupportedMessageError(this.options.sessionId, context.message.type);
    }
    const turn = this.turn(payload as InferenceRequest, context);
    for (let step = await turn.next(); !step.done; step = await turn.next()) await onChunk(step.value);
  }

  private history(): SessionHistory {
    const { systemPrompt, turns, contextStart } = this.session;
    return {
      ...(systemPrompt === undefined ? {} : { systemPrompt }),
      turns: structuredClone(turns),
      contextStart: contextStart ?? 0,
    };
  }

  /** Runs `work` after every turn queued before it. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turnChain.then(work);
    this.turnChain = run.catch(() => {});
    return run;
  }

  /**
   * One turn, as events: its tokens, then `done` once the turn is persisted. Queued behind earlier
   * turns; cancellable by the caller's signal and by `cancel`. Failures throw (the router turns them
   * into the stream's error event, or the ask's rejection) and leave the history unchanged.
   */
  private async *turn(request: InferenceRequest, context: ActorContext): AsyncGenerator<TokenStreamEventInput, InferenceResult> {
    if (typeof request !== 'object' || request === null || typeof request.message !== 'string' || request.message.length === 0) {
      throw new InvalidArgumentError(`inference needs { message: non-empty string }, got ${JSON.stringify(request)}`);
    }
    const promptId = request.promptId ?? context.message.id;
    if (typeof promptId !== 'string' || promptId.length === 0) throw new InvalidArgumentError('promptId must be a non-empty string');
    const completion = this.completion(promptId);
    const steps: TurnStep[] = [];
    let wake: Deferred | undefined;
    let finished = false;
    let failure: unknown;
    const push = (step: TurnStep): Promise<void> | void => {
      steps.push(step);
      wake?.resolve();
      wake = undefined;
    };
    // The turn runs in the queue; this generator relays its steps to whoever consumes the turn.
    const running = this.enqueue(() => this.runTurn(request, promptId, context, push)).then(
      (result) => {
        this.complete(completion, promptId, { success: true, finishReason: result.finishReason });
        return result;
      },
      (error: unknown) => {
        failure = error;
        this.complete(completion, promptId, { success: false, error });
        throw error;
      },
    );
    running.then(
      () => {},
      () => {},
    ).finally(() => {
      finished = true;
      wake?.resolve();
    });
    for (;;) {
      const step = steps.shift();
      if (step) {
        if ('end' in step) return step.end;
        yield step.token;
        continue;
      }
      if (finished) {
        if (failure !== undefined) throw failure;
        return running; // resolved: its end step was already taken
      }
      wake = new Deferred();
      await wake.promise;
    }
  }

  private async runTurn(
    request: InferenceRequest,
    promptId: string,
    context: ActorContext,
    push: (step: TurnStep) => void,
  ): Promise<InferenceResult> {
    const controller = new AbortController();
    const signal = AbortSignal.any([context.signal, controller.signal]);
    this.current = { promptId, controller };
    try {
      if (signal.aborted) throw abortReason(signal);
      const session = this.session;
      const model = await this.options.models.ensureStarted(session.model, { signal });
      const info = await this.info(model, context);
      const params = { ...session.params, ...request.params };
      // Room to answer: the turn's maxTokens (256 by default), but never more than half the context.
      const reserve = Math.max(1, Math.min(params.maxTokens ?? 256, Math.floor(info.contextSize / 2)));
      const system = request.system ?? session.systemPrompt;
      let contextStart = session.contextStart ?? 0;
      const startedShifted = contextStart;
      const userTurn: Turn = { role: 'user', content: request.message, promptId, at: this.clock.now() };
      for (;;) {
        const messages: ChatMessage[] = [
          ...(system === undefined ? [] : [{ role: 'system' as const, content: system }]),
          ...session.turns.slice(contextStart).map(({ role, content }) => ({ role, content })),
          { role: 'user', content: request.message },
        ];
        const stream = context.router.stream(
          model,
          ModelMessage.Generate,
          { messages, params, session: session.id, minFreeTokens: reserve },
          { signal },
        );
        let usage: GenerationUsage | undefined;
        let finishReason: FinishReason = FinishReason.Stop;
        let text = '';
        let overflow: ActorError | undefined;
        for await (const event of stream) {
          if (event.type === StreamEventType.Token) {
            text += event.content ?? '';
            push({ token: event });
          } else if (event.type === StreamEventType.Done) {
            usage = event.usage as GenerationUsage;
            finishReason = event.finishReason ?? FinishReason.Stop;
          } else if (event.code === ModelErrorCode.PromptTooLong && text.length === 0) {
            overflow = stream.stats.error;
          } else {
            throw signal.aborted ? abortReason(signal) : (stream.stats.error ?? new ActorError(ErrorCode.ActorFailed, event.error ?? 'model failed'));
          }
        }
        if (overflow) {
          // Shift: drop the oldest exchange (a user turn and its reply) and try again.
          const remaining = session.turns.length - contextStart;
          if ((session.overflow ?? 'shift') === 'error' || remaining === 0) {
            const tooLong = overflow as ActorError & { promptTokens?: number };
            throw new ContextOverflowError(
              tooLong.promptTokens ?? 0,
              info.contextSize,
              remaining === 0 ? 'the message alone does not fit' : 'the session refuses to drop turns (overflow: error)',
            );
          }
          contextStart = Math.min(session.turns.length, contextStart + 2);
          continue;
        }
        const assistantTurn: Turn = { role: 'assistant', content: text, promptId, at: this.clock.now() };
        // Persisted before the turn is reported done: a reported turn survives a crash.
        await this.persist({
          ...session,
          turns: [...session.turns, userTurn, assistantTurn],
          contextStart,
          updatedAt: this.clock.now(),
        });
        const result: InferenceResult = {
          promptId,
          text,
          finishReason,
          usage: usage as GenerationUsage,
          shiftedTurns: contextStart - startedShifted,
        };
        push({
          token: {
            type: StreamEventType.Done,
            finishReason,
            ...(usage ? { usage, tokensPerSecond: usage.tokensPerSecond } : {}),
          },
        });
        push({ end: result });
        return result;
      }
    } finally {
      if (this.current?.promptId === promptId) this.current = undefined;
    }
  }

  private async info(model: Address, context: ActorContext): Promise<ModelInfo> {
    this.modelInfo ??= await context.router.ask<ModelInfo>(model, ModelMessage.Info, null, {
      timeout: Number.POSITIVE_INFINITY,
      signal: context.signal,
    });
    return this.modelInfo;
  }

  private async persist(entity: SessionEntity): Promise<void> {
    await this.options.store.put(EntityCollection.Sessions, entity.id, entity);
    this.entity = entity;
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

  private async waitForCompletion(promptId: unknown, signal: AbortSignal): Promise<CompletionEvent> {
    if (typeof promptId !== 'string') throw new InvalidArgumentError('wait-for-completion needs { promptId: string }');
    const deferred = this.completions.get(promptId);
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

function abortReason(signal: AbortSignal): ActorError {
  return signal.reason instanceof ActorError ? signal.reason : new AbortedError('turn', { cause: signal.reason });
}
