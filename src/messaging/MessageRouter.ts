import type { Logger } from 'pino';
import type { ActorSource } from './Actor.js';
import { ActorCell, type CellHost } from './ActorCell.js';
import { ActorRef } from './ActorRef.js';
import type { ActorStatus } from './actorLifecycle.js';
import { type Address, parseAddress } from './address.js';
import { type Clock, systemClock } from './Clock.js';
import { type DeadLetter, DeadLetterReason } from './DeadLetter.js';
import {
  AbortedError,
  type ActorError,
  ActorAlreadyRegisteredError,
  ActorNotFoundError,
  ActorStoppedError,
  DisposedError,
  InvalidArgumentError,
  MailboxFullError,
  StreamNotSupportedError,
  UnsupportedMessageError,
} from './errors.js';
import { messageSpec, type Protocol, type ProtocolShape } from './protocol.js';
import { ActorKindMismatchError } from './protocolErrors.js';
import type { GenerationResult } from './GenerationResult.js';
import { GenerationStream } from './GenerationStream.js';
import { type InspectionEvent, InspectionEventType, type Inspector } from './inspection.js';
import { defaultLogger } from './logger.js';
import { createMessage, type Message, MessagePattern } from './Message.js';
import { AskJob, type JobHost, type RequestJob, StreamJob, TellJob } from './RequestJob.js';
import { StreamChannel } from './StreamChannel.js';
import { resolveSupervisionPolicy, type ResolvedSupervisionPolicy, type SupervisionPolicy } from './SupervisionPolicy.js';
import type { TokenStreamEvent } from './TokenStreamEvent.js';
import type {
  ActorOptions,
  ActorRouter,
  AskOptions,
  SendOptions,
  StreamOptions,
  StreamRequestOptions,
} from './types.js';

/** Options of {@link MessageRouter}. */
export interface MessageRouterOptions {
  /** pino logger; actors get children of it. Defaults to a `warn`-level logger (`silent` under vitest; `LLAMA_ACTORS_LOG_LEVEL` overrides). */
  logger?: Logger;
  /** Time source for timestamps, timeouts and backoff. Defaults to the system clock. */
  clock?: Clock;
  /** Sees every message, reply, stream event, dead letter and lifecycle change. Defaults to none. */
  inspect?: Inspector;
  /** Default `ask` timeout in ms (OTP's `gen_server:call` default). Defaults to `5_000`. */
  askTimeout?: number;
  /** Default `stream` timeout in ms. Defaults to `Infinity` (generations can be long; pass a signal or a timeout). */
  streamTimeout?: number;
  /** Default per-consumer buffer before a producer's `onChunk` waits. Defaults to `64`. */
  highWaterMark?: number;
  /** Default mailbox bound (messages waiting, not running). Defaults to `1_000`. */
  mailboxSize?: number;
  /** Default supervision policy. Defaults to 3 restarts per 60 s, backoff 100 ms doubling to 10 s. */
  supervision?: SupervisionPolicy;
  /** How long `unregisterActor` and `dispose` wait for handlers that ignore their signal, in ms. Defaults to `10_000`. */
  stopTimeout?: number;
}

/** Options of {@link MessageRouter.unregisterActor}. */
export interface UnregisterOptions {
  /**
   * `false` (abort): queued messages fail with `ACTOR_STOPPED` (and go to dead letters) and running
   * ones are aborted through their signal. `true` (drain): both are allowed to finish first.
   * Defaults to `false`.
   */
  drain?: boolean;
  /** Longest wait for handlers to return, in ms. Defaults to the router's `stopTimeout`. */
  timeout?: number;
}

/** What an actor emitted, as delivered to {@link MessageRouter.subscribe} observers. */
export type ActorEmission =
  | { kind: 'stream-event'; actor: Address; request: Message; event: TokenStreamEvent }
  | { kind: 'reply'; actor: Address; request: Message; reply: unknown; error?: ActorError };

/** Receives {@link ActorEmission}s. Exceptions it throws are logged and ignored. */
export type EmissionListener = (emission: ActorEmission) => void;

/** Options of {@link MessageRouter.subscribe}. */
export interface SubscribeOptions {
  /** Only emissions for requests sent with this `scope`. Defaults to all. */
  scope?: string;
}

interface Observer {
  listener: EmissionListener;
  scope: string | undefined;
}

const DEFAULT_ASK_TIMEOUT = 5_000;

/** @internal Validates a timeout: a positive number of ms, or `Infinity`. */
function checkTimeout(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms or Infinity, got ${String(value)}`);
  }
  return value;
}

/** @internal Validates a count: a positive integer. */
function checkCount(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Delivers `tell`, `ask` and streaming messages to actors registered by address, with per-actor
 * bounded mailboxes, timeouts, cancellation, backpressure, supervision, dead letters and an
 * inspection hook. It knows nothing about models: a model is just an actor that streams.
 *
 * @example
 * ```ts
 * const router = new MessageRouter();
 * router.registerActor('echo', new EchoActor());
 * const reply = await router.ask(address('echo'), 'echo', 'hi');
 * await router.streamAsk(address('echo'), 'echo', 'a b c', {
 *   onChunk: (event) => { if (event.type === 'token') process.stdout.write(event.content ?? ''); },
 * });
 * await router.dispose();
 * ```
 */
export class MessageRouter implements ActorRouter, AsyncDisposable {
  readonly logger: Logger;
  private readonly clock: Clock;
  private readonly inspector: Inspector | undefined;
  private readonly askTimeout: number;
  private readonly streamTimeout: number;
  private readonly highWaterMark: number;
  private readonly mailboxSize: number;
  private readonly stopTimeout: number;
  private readonly supervision: ResolvedSupervisionPolicy;
  private readonly cells = new Map<string, ActorCell>();
  private readonly observers = new Map<string, Set<Observer>>();
  private readonly deadLetterListeners = new Set<(deadLetter: DeadLetter) => void>();
  private disposing: Promise<void> | undefined;
  private readonly cellHost: CellHost;
  private readonly jobHost: JobHost;

  constructor(options: MessageRouterOptions = {}) {
    this.logger = options.logger ?? defaultLogger();
    this.clock = options.clock ?? systemClock;
    this.inspector = options.inspect;
    this.askTimeout = checkTimeout(options.askTimeout, DEFAULT_ASK_TIMEOUT, 'askTimeout');
    this.streamTimeout = checkTimeout(options.streamTimeout, Number.POSITIVE_INFINITY, 'streamTimeout');
    this.highWaterMark = checkCount(options.highWaterMark, 64, 'highWaterMark');
    this.mailboxSize = checkCount(options.mailboxSize, 1_000, 'mailboxSize');
    this.stopTimeout = checkTimeout(options.stopTimeout, 10_000, 'stopTimeout');
    this.supervision = resolveSupervisionPolicy(options.supervision);

    const setTimer = (callback: () => void, ms: number): unknown => this.clock.setTimeout(callback, ms);
    const clearTimer = (handle: unknown): void => {
      if (handle !== undefined) this.clock.clearTimeout(handle);
    };
    this.cellHost = {
      now: () => this.clock.now(),
      setTimer,
      clearTimer,
      inspect: (event) => this.inspect(event),
      deadLetter: (message, reason, error) => this.deadLetter(message, reason, error),
      report: (error, source) => this.report(error, source),
      detachCell: (cell) => {
        if (this.cells.get(cell.id) === cell) this.cells.delete(cell.id);
      },
    };
    this.jobHost = {
      setTimer,
      clearTimer,
      deadLetter: (message, reason, error, reply) => this.deadLetter(message, reason, error, reply),
      replied: (cell, request, value, error) => this.replied(cell, request, value, error),
    };
  }

  /**
   * Registers an actor (or a factory that makes one on each start and restart) under `id` and starts
   * it: `onStart` runs asynchronously and messages sent meanwhile wait in the mailbox.
   *
   * @returns the actor's address.
   * @throws {ActorAlreadyRegisteredError} if `id` is taken; {@link InvalidArgumentError} for bad options.
   * @example
   * ```ts
   * const echo = router.registerActor('echo', () => new EchoActor(), { concurrency: 4 });
   * ```
   */
  registerActor(id: string | Address, actor: ActorSource, options: ActorOptions = {}): Address {
    this.assertOpen();
    const actorId = parseAddress(id);
    if (this.cells.has(actorId)) throw new ActorAlreadyRegisteredError(actorId);
    const mailboxSize = checkCount(options.mailboxSize, this.mailboxSize, 'mailboxSize');
    const settings = {
      mailboxSize,
      concurrency: checkCount(options.concurrency, 1, 'concurrency'),
      maxConcurrent: checkCount(options.maxConcurrent, mailboxSize, 'maxConcurrent'),
      supervision: resolveSupervisionPolicy(options.supervision, this.supervision),
      stopTimeout: this.stopTimeout,
    };
    const self = `@(${actorId})` as Address;
    const cell = new ActorCell(this.cellHost, actorId, actor, settings, new SenderRouter(this, self), this.logger);
    this.cells.set(actorId, cell);
    this.inspect({ type: InspectionEventType.ActorRegistered, actor: cell.address, timestamp: this.clock.now() });
    cell.start();
    return cell.address;
  }

  /**
   * Stops an actor and removes it. By default its queued messages fail with `ACTOR_STOPPED` and its
   * running ones are aborted (their callers are answered at once); pass `{ drain: true }` to let them
   * finish. Resolves after the actor's `onStop`. Messages sent afterwards are dead letters.
   *
   * @returns `true` if an actor was registered at the address.
   */
  async unregisterActor(id: string | Address, options: UnregisterOptions = {}): Promise<boolean> {
    const cell = this.cells.get(parseAddress(id));
    if (!cell) return false;
    await cell.stop(new ActorStoppedError(cell.id, 'unregistered'), {
      drain: options.drain ?? false,
      timeoutMs: checkTimeout(options.timeout, this.stopTimeout, 'timeout'),
    });
    return true;
  }

  /** True if an actor is registered (and not stopping) at the address. */
  has(id: string | Address): boolean {
    return this.cells.has(parseAddress(id));
  }

  /** The lifecycle status of a registered actor, or `undefined`. */
  status(id: string | Address): ActorStatus | undefined {
    return this.cells.get(parseAddress(id))?.status;
  }

  /** The protocol the actor at the address declares, or `undefined` (none, or no such actor). */
  protocolOf(id: string | Address): Protocol | undefined {
    return this.cells.get(parseAddress(id))?.protocol;
  }

  /** Addresses of all registered actors. */
  actors(): Address[] {
    return [...this.cells.values()].map((cell) => cell.address);
  }

  /**
   * Resolves once the actor has started (its first `onStart` succeeded); rejects with
   * `ACTOR_STOPPED` if it stopped first, or `ABORTED` when `signal` fires.
   */
  async ready(id: string | Address, options: { signal?: AbortSignal } = {}): Promise<void> {
    const actorId = parseAddress(id);
    const cell = this.cells.get(actorId);
    if (!cell) throw new ActorNotFoundError(actorId);
    const signal = options.signal;
    if (!signal) return cell.started;
    if (signal.aborted) throw new AbortedError('ready', { cause: signal.reason });
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([
        cell.started,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(new AbortedError('ready', { cause: signal.reason }));
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A typed handle on the actor at `to`: every `ask`, `tell` and `stream` through it is typed from
   * `protocol`, and refused with `ACTOR_KIND_MISMATCH` if the actor there is of another kind.
   *
   * @throws {ActorKindMismatchError} when an actor of another kind is registered at `to` now.
   * @example
   * ```ts
   * const counter = router.ref(address('counter/a'), counterProtocol);
   * const total = await counter.ask('add', { by: 2 }); // number
   * ```
   */
  ref<T extends ProtocolShape>(to: Address | string, protocol: Protocol<T>): ActorRef<T> {
    const actorId = parseAddress(to);
    const cell = this.cells.get(actorId);
    if (cell && cell.protocol?.kind !== protocol.kind) throw new ActorKindMismatchError(actorId, protocol.kind, cell.protocol?.kind);
    return new ActorRef(`@(${actorId})` as Address, protocol, this);
  }

  /**
   * Fire and forget. Never throws for delivery problems: an unknown or stopped actor or a full
   * mailbox sends the message to dead letters and returns `false`.
   *
   * @throws {InvalidAddressError} for a malformed address (a programming error, not a delivery problem).
   */
  tell<P>(to: Address | string, type: string, payload: P, options: SendOptions = {}): boolean {
    const { message, cell } = this.prepare(to, type, payload, MessagePattern.Tell, options);
    if (!cell) return false;
    const refusal = this.refusal(cell, message, options);
    if (refusal) {
      this.deadLetter(message, DeadLetterReason.Refused, refusal);
      return false;
    }
    try {
      cell.enqueue(new TellJob(this.jobHost, cell, message));
      return true;
    } catch (error) {
      this.refused(message, error as ActorError);
      return false;
    }
  }

  /**
   * Request/response. Resolves with the actor's `receive` return value.
   *
   * Rejects with `ACTOR_NOT_FOUND`, `MAILBOX_FULL`, `TIMEOUT` (after `timeout`, default 5 s),
   * `ABORTED`, `ACTOR_STOPPED`, the actor's own {@link ActorError}, or `ACTOR_FAILED` wrapping
   * anything else it threw. On timeout or abort the caller is answered at once and the handler's
   * `context.signal` fires; a reply that comes later goes to dead letters.
   *
   * @example
   * ```ts
   * const count = await router.ask<number>(address('counter'), 'get', {}, { timeout: 1_000 });
   * ```
   */
  async ask<R = unknown, P = unknown>(
    to: Address | string,
    type: string,
    payload: P,
    options: AskOptions = {},
  ): Promise<R> {
    const timeout = checkTimeout(options.timeout, this.askTimeout, 'timeout');
    const { message, cell } = this.prepare(to, type, payload, MessagePattern.Ask, options);
    if (!cell) throw new ActorNotFoundError(parseAddress(to));
    const refusal = this.refusal(cell, message, options);
    if (refusal) {
      this.deadLetter(message, DeadLetterReason.Refused, refusal);
      throw refusal;
    }
    if (options.signal?.aborted) throw new AbortedError(`ask ${type} to ${cell.address}`, { cause: options.signal.reason });
    const job = new AskJob(this.jobHost, cell, message);
    this.admit(cell, job);
    job.armTimeout(timeout, `ask ${type} to ${cell.address}`);
    job.linkSignal(options.signal, `ask ${type} to ${cell.address}`);
    return job.reply.promise as Promise<R>;
  }

  /**
   * Opens a stream and returns it at once as a {@link GenerationStream}: iterate it for events,
   * await it for the result, `cancel()` it. Routing errors (unknown address, an actor without
   * `stream()`, a full mailbox, an already aborted signal) produce no events: the first `next()`
   * and the awaited result reject with the typed error. Failures after that arrive as an `error` event.
   *
   * @example
   * ```ts
   * for await (const event of router.stream(address('writer'), 'write', { words: 3 })) {
   *   if (event.type === 'token') process.stdout.write(event.content ?? '');
   * }
   * ```
   */
  stream<P>(to: Address | string, type: string, payload: P, options: StreamRequestOptions = {}): GenerationStream {
    let highWaterMark: number;
    let timeout: number;
    let prepared: { message: Message<P>; cell: ActorCell | undefined };
    try {
      highWaterMark = checkCount(options.highWaterMark, this.highWaterMark, 'highWaterMark');
      timeout = checkTimeout(options.timeout, this.streamTimeout, 'timeout');
      prepared = this.prepare(to, type, payload, MessagePattern.Stream, options);
    } catch (error) {
      // Bad arguments are routing errors too: a stream that rejects, not a synchronous throw.
      return this.rejectedStream(String(to), error as ActorError);
    }
    const { message, cell } = prepared;
    const what = `stream ${type} to ${message.to}`;
    let job: StreamJob | undefined;
    const channel = new StreamChannel(message.id, {
      highWaterMark,
      // A producer that does not await onChunk gets this much slack before its stream fails.
      maxBuffered: highWaterMark * 16,
      now: () => this.clock.now(),
      onEvent: (event) => {
        if (cell) this.streamEvent(cell, message, event);
      },
      onEnd: (error) => job?.ended(error),
    });
    const stream = new GenerationStream(
      channel,
      (reason) => job?.cancel(new AbortedError(what, { cause: reason })),
      (error, source) => this.report(error, source),
    );
    let refusal: ActorError | undefined;
    if (!cell) refusal = new ActorNotFoundError(parseAddress(to));
    else if ((refusal = this.refusal(cell, message, options))) this.deadLetter(message, DeadLetterReason.Refused, refusal);
    else if (options.signal?.aborted) refusal = new AbortedError(what, { cause: options.signal.reason });
    else {
      job = new StreamJob(this.jobHost, cell, message);
      job.channel = channel;
      try {
        this.admit(cell, job);
        job.armTimeout(timeout, what);
        job.linkSignal(options.signal, what);
      } catch (error) {
        job = undefined;
        refusal = error as ActorError;
      }
    }
    if (refusal) channel.reject(refusal);
    return stream;
  }

  private rejectedStream(id: string, error: ActorError): GenerationStream {
    const channel = new StreamChannel(id, {
      highWaterMark: 1,
      maxBuffered: 1,
      now: () => this.clock.now(),
      onEvent: () => {},
      onEnd: () => {},
    });
    channel.reject(error);
    return new GenerationStream(channel, () => {}, (e, source) => this.report(e, source));
  }

  /**
   * The callback form of {@link stream} (the seed's `streamAsk`): delivers every event to
   * `options.onChunk` in order, awaiting it, and resolves with the {@link GenerationResult} after
   * the terminal event was delivered, also when that was an `error` event (see `result.error`).
   * Rejects only for routing errors, before any chunk. A callback that throws ends the stream with
   * a `CONSUMER_FAILED` error event and disturbs no other stream.
   *
   * @example
   * ```ts
   * const result = await router.streamAsk(address('writer'), 'write', { words: 3 }, {
   *   onChunk: (event) => { if (event.type === 'token') process.stdout.write(event.content ?? ''); },
   *   timeout: 30_000,
   * });
   * console.log(`\n${result.tokenCount} tokens, ${result.tokensPerSecond.toFixed(1)} tokens/s`);
   * ```
   */
  async streamAsk<P>(
    to: Address | string,
    type: string,
    payload: P,
    options: StreamOptions,
  ): Promise<GenerationResult> {
    if (typeof options?.onChunk !== 'function') throw new InvalidArgumentError('streamAsk needs an onChunk callback');
    const stream = this.stream(to, type, payload, options);
    await stream.consume(options.onChunk);
    if (stream.rejectedWith) throw stream.rejectedWith;
    return stream.stats;
  }

  /**
   * Observes everything an actor emits (its stream events and ask replies), optionally only for one
   * `scope`: the "global stream with scopes" of a background worker. Observers apply no
   * backpressure and may subscribe before the actor is registered; they survive restarts.
   *
   * @returns a function that ends the subscription.
   */
  subscribe(to: Address | string, listener: EmissionListener, options: SubscribeOptions = {}): () => void {
    const actorId = parseAddress(to);
    let set = this.observers.get(actorId);
    if (!set) {
      set = new Set();
      this.observers.set(actorId, set);
    }
    const observer: Observer = { listener, scope: options.scope };
    set.add(observer);
    return () => {
      set.delete(observer);
      if (set.size === 0 && this.observers.get(actorId) === set) this.observers.delete(actorId);
    };
  }

  /** Observes the dead-letter channel. Returns a function that ends the subscription. */
  onDeadLetter(listener: (deadLetter: DeadLetter) => void): () => void {
    this.deadLetterListeners.add(listener);
    return () => this.deadLetterListeners.delete(listener);
  }

  /**
   * Stops every actor (aborting their work) and refuses new registrations. Idempotent.
   *
   * @example
   * ```ts
   * await using router = new MessageRouter(); // disposed at the end of the scope
   * ```
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      await Promise.all(
        [...this.cells.values()].map((cell) =>
          cell.stop(new ActorStoppedError(cell.id, 'router disposed'), { drain: false, timeoutMs: this.stopTimeout }),
        ),
      );
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private assertOpen(): void {
    if (this.disposing) throw new DisposedError('MessageRouter');
  }

  /** Makes the envelope and finds the cell; an unknown actor becomes a dead letter. */
  private prepare<P>(
    to: Address | string,
    type: string,
    payload: P,
    pattern: MessagePattern,
    options: SendOptions,
  ): { message: Message<P>; cell: ActorCell | undefined } {
    const actorId = parseAddress(to);
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidArgumentError(`message type must be a non-empty string, got ${JSON.stringify(type)}`);
    }
    const cell = this.cells.get(actorId);
    const message = createMessage({
      type,
      payload,
      pattern,
      to: cell?.address ?? (`@(${actorId})` as Address),
      timestamp: this.clock.now(),
      from: options.from,
      scope: options.scope,
    });
    if (this.inspector) this.inspect({ type: InspectionEventType.Message, message, timestamp: message.timestamp });
    if (!cell) {
      this.deadLetter(
        message,
        this.disposing ? DeadLetterReason.ActorStopped : DeadLetterReason.ActorNotFound,
        new ActorNotFoundError(actorId),
      );
    }
    return { message, cell };
  }

  /**
   * Why the actor's protocol refuses `message`, if it does: the wrong kind of actor for a ref, a type
   * it does not declare, or a stream of a type that does not stream.
   */
  private refusal(cell: ActorCell, message: Message, options: SendOptions): ActorError | undefined {
    const protocol = cell.protocol;
    if (options.expectKind !== undefined && protocol?.kind !== options.expectKind) {
      return new ActorKindMismatchError(cell.id, options.expectKind, protocol?.kind);
    }
    const streaming = message.pattern === MessagePattern.Stream;
    if (!protocol) return streaming && !cell.canStream ? new StreamNotSupportedError(cell.id) : undefined;
    const spec = messageSpec(protocol, message.type);
    if (!spec) return new UnsupportedMessageError(cell.id, message.type);
    if (streaming && (spec.stream !== true || !cell.canStream)) return new StreamNotSupportedError(cell.id);
    return undefined;
  }

  /** Puts a job in the mailbox; a full mailbox is a dead letter and a typed rejection. */
  private admit(cell: ActorCell, job: RequestJob): void {
    try {
      cell.enqueue(job);
    } catch (error) {
      this.refused(job.message, error as ActorError);
      throw error;
    }
  }

  private refused(message: Message, error: ActorError): void {
    if (error instanceof MailboxFullError) this.deadLetter(message, DeadLetterReason.MailboxFull, error);
  }

  private streamEvent(cell: ActorCell, request: Message, event: TokenStreamEvent): void {
    if (this.inspector) {
      this.inspect({
        type: InspectionEventType.StreamEvent,
        actor: cell.address,
        streamId: request.id,
        event,
        timestamp: event.timestamp,
      });
    }
    const observers = this.observers.get(cell.id);
    if (observers) this.notify(observers, { kind: 'stream-event', actor: cell.address, request, event });
  }

  private replied(cell: ActorCell, request: Message, value: unknown, error: ActorError | undefined): void {
    if (this.inspector) {
      const reply = createMessage({
        type: request.type,
        payload: error ? undefined : value,
        pattern: MessagePattern.Reply,
        to: request.from ?? request.to,
        from: cell.address,
        timestamp: this.clock.now(),
        correlationId: request.id,
        scope: request.scope,
      });
      this.inspect(
        error
          ? { type: InspectionEventType.Reply, message: reply, error, timestamp: reply.timestamp }
          : { type: InspectionEventType.Reply, message: reply, timestamp: reply.timestamp },
      );
    }
    const observers = this.observers.get(cell.id);
    if (observers) {
      const emission: ActorEmission = error
        ? { kind: 'reply', actor: cell.address, request, reply: undefined, error }
        : { kind: 'reply', actor: cell.address, request, reply: value };
      this.notify(observers, emission);
    }
  }

  private notify(observers: Set<Observer>, emission: ActorEmission): void {
    for (const observer of observers) {
      if (observer.scope !== undefined && observer.scope !== emission.request.scope) continue;
      try {
        observer.listener(emission);
      } catch (error) {
        this.report(error, `subscriber of ${emission.actor}`);
      }
    }
  }

  private deadLetter(message: Message, reason: DeadLetterReason, error?: ActorError, reply?: unknown): void {
    const deadLetter: DeadLetter = {
      message,
      reason,
      timestamp: this.clock.now(),
      ...(error ? { error } : {}),
      ...(reply !== undefined ? { reply } : {}),
    };
    this.logger.debug({ messageId: message.id, to: message.to, type: message.type, reason }, 'dead letter');
    this.inspect({ type: InspectionEventType.DeadLetter, deadLetter, timestamp: deadLetter.timestamp });
    for (const listener of this.deadLetterListeners) {
      try {
        listener(deadLetter);
      } catch (listenerError) {
        this.report(listenerError, 'dead-letter listener');
      }
    }
  }

  private inspect(event: InspectionEvent): void {
    if (!this.inspector) return;
    try {
      this.inspector(event);
    } catch (error) {
      // Reported to the log only: sending it back to the inspector that threw could loop.
      this.logger.error({ err: error }, 'inspector threw');
    }
  }

  /** Something that is nobody's to handle threw (xstate's `reportUnhandledError`): log, inspect, go on. */
  private report(error: unknown, source: string): void {
    this.logger.error({ err: error, source }, 'unhandled error in callback');
    this.inspect({ type: InspectionEventType.UnhandledError, error, source, timestamp: this.clock.now() });
  }
}

/** @internal The router as an actor sees it: everything it sends carries its address as `from`. */
class SenderRouter implements ActorRouter {
  constructor(
    private readonly router: MessageRouter,
    private readonly self: Address,
  ) {}

  ref<T extends ProtocolShape>(to: Address | string, protocol: Protocol<T>): ActorRef<T> {
    return this.router.ref(to, protocol).via(this);
  }

  tell<P>(to: Address | string, type: string, payload: P, options: SendOptions = {}): boolean {
    return this.router.tell(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  ask<R = unknown, P = unknown>(to: Address | string, type: string, payload: P, options: AskOptions = {}): Promise<R> {
    return this.router.ask<R, P>(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  streamAsk<P>(to: Address | string, type: string, payload: P, options: StreamOptions): Promise<GenerationResult> {
    return this.router.streamAsk(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  stream<P>(to: Address | string, type: string, payload: P, options: StreamRequestOptions = {}): GenerationStream {
    return this.router.stream(to, type, payload, { ...options, from: options.from ?? this.self });
  }
}
