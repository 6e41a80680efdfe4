import type { Logger } from 'pino';
import type { ActorSource } from './Actor.js';
import { Admission } from './Admission.js';
import { ActorCell, type CellHost } from './ActorCell.js';
import { ActorRef } from './ActorRef.js';
import type { ActorStatus } from './actorLifecycle.js';
import { type Address, parseAddress } from './address.js';
import { type DeadLetter, DeadLetterReason } from './DeadLetter.js';
import { DeadLetterChannel } from './DeadLetterChannel.js';
import { type EmissionListener, EmissionObservers, type SubscribeOptions } from './EmissionObservers.js';
import {
  AbortedError,
  type ActorError,
  ActorAlreadyRegisteredError,
  ActorNotFoundError,
  ActorStoppedError,
  DisposedError,
  InvalidArgumentError,
} from './errors.js';
import type { GenerationResult } from './GenerationResult.js';
import type { GenerationStream } from './GenerationStream.js';
import { InspectionHook } from './InspectionHook.js';
import { InspectionEventType } from './inspection.js';
import { type Message, MessagePattern } from './Message.js';
import {
  checkCount,
  checkTimeout,
  type MessageRouterOptions,
  resolveCellSettings,
  resolveRouterOptions,
  type RouterSettings,
  type UnregisterOptions,
} from './MessageRouterOptions.js';
import { openStream, rejectedStream, type StreamHost, type StreamRequest } from './openStream.js';
import type { Protocol, ProtocolShape } from './protocol.js';
import { ActorKindMismatchError } from './protocolErrors.js';
import { AskJob, TellJob } from './RequestJob.js';
import { SenderRouter } from './SenderRouter.js';
import { untilAborted } from './untilAborted.js';
import type {
  ActorOptions,
  ActorRouter,
  AskOptions,
  SendOptions,
  StreamOptions,
  StreamRequestOptions,
} from './types.js';

// The router's option and observer types live with their concepts; the public surface imports them from here.
export type { ActorEmission, EmissionListener, SubscribeOptions } from './EmissionObservers.js';
export type { MessageRouterOptions, UnregisterOptions } from './MessageRouterOptions.js';

/**
 * Delivers `tell`, `ask` and streaming messages to actors registered by address, with per-actor
 * bounded mailboxes, timeouts, cancellation, backpressure, supervision, dead letters and an
 * inspection hook. It knows nothing about models: a model is just an actor that streams.
 *
 * @example
 * ```ts
 * await using router = new MessageRouter(); // disposed at the end of the scope
 * // The Counter actor declares counterProtocol; a ref types every send from it.
 * const counter = router.ref(router.registerActor('counter/main', new Counter()), counterProtocol);
 * const total = await counter.ask(CounterMessage.Add, { by: 3 }); // number
 * for await (const text of counter.stream(CounterMessage.Count, { from: 3 }).text) process.stdout.write(text);
 * ```
 */
export class MessageRouter implements ActorRouter, AsyncDisposable {
  readonly logger: Logger;
  private readonly settings: RouterSettings;
  private readonly cells = new Map<string, ActorCell>();
  private readonly hook: InspectionHook;
  private readonly observers: EmissionObservers;
  private readonly deadLetters: DeadLetterChannel;
  private readonly admission: Admission;
  private disposing: Promise<void> | undefined;
  /** What cells, jobs and streams call back into: the router's private side. */
  private readonly host: CellHost & StreamHost;

  constructor(options: MessageRouterOptions = {}) {
    this.settings = resolveRouterOptions(options);
    const { logger, clock } = this.settings;
    this.logger = logger;
    const now = (): number => clock.now();
    this.hook = new InspectionHook(this.settings.inspector, logger, now);
    this.observers = new EmissionObservers((error, source) => this.hook.report(error, source));
    this.deadLetters = new DeadLetterChannel(this.hook, logger, now);
    this.admission = new Admission(this.cells, () => this.disposing !== undefined, this.hook, this.deadLetters, now);
    this.host = {
      now,
      setTimer: (callback, ms) => clock.setTimeout(callback, ms),
      clearTimer: (handle) => {
        if (handle !== undefined) clock.clearTimeout(handle);
      },
      inspect: (event) => this.hook.inspect(event),
      report: (error, source) => this.hook.report(error, source),
      deadLetter: (message: Message, reason: DeadLetterReason, error?: ActorError, reply?: unknown) =>
        this.deadLetters.publish(message, reason, error, reply),
      detachCell: (cell) => {
        if (this.cells.get(cell.id) === cell) this.cells.delete(cell.id);
      },
      replied: (cell, request, value, error) => {
        this.hook.reply(cell.address, request, value, error);
        this.observers.reply(cell, request, value, error);
      },
      streamEvent: (cell, request, event) => {
        this.hook.streamEvent(cell.address, request, event);
        this.observers.streamEvent(cell, request, event);
      },
      refuse: (cell, message, sendOptions) => this.admission.refuse(cell, message, sendOptions),
      admit: (cell, job) => this.admission.admit(cell, job),
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
    const settings = resolveCellSettings(options, this.settings);
    const self = `@(${actorId})` as Address;
    const cell = new ActorCell(this.host, actorId, actor, settings, new SenderRouter(this, self), this.logger);
    this.cells.set(actorId, cell);
    this.hook.inspect({ type: InspectionEventType.ActorRegistered, actor: cell.address, timestamp: this.host.now() });
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
      timeoutMs: checkTimeout(options.timeout, this.settings.stopTimeout, 'timeout'),
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
    if (!options.signal) return cell.started;
    await untilAborted(cell.started, options.signal, 'ready');
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
    const { message, cell } = this.admission.prepare(to, type, payload, MessagePattern.Tell, options);
    if (!cell) return false;
    if (this.admission.refuse(cell, message, options)) return false;
    try {
      this.admission.admit(cell, new TellJob(this.host, cell, message));
      return true;
    } catch {
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
   * // By address the reply is `unknown`; through a ref it is typed from the actor's protocol.
   * const counter = router.ref(address('counter/main'), counterProtocol);
   * const count = await counter.ask(CounterMessage.Get, null, { timeout: 1_000 }); // number
   * ```
   */
  async ask<R = unknown, P = unknown>(
    to: Address | string,
    type: string,
    payload: P,
    options: AskOptions = {},
  ): Promise<R> {
    const timeout = checkTimeout(options.timeout, this.settings.askTimeout, 'timeout');
    const { message, cell } = this.admission.prepare(to, type, payload, MessagePattern.Ask, options);
    if (!cell) throw new ActorNotFoundError(parseAddress(to));
    const refusal = this.admission.refuse(cell, message, options);
    if (refusal) throw refusal;
    if (options.signal?.aborted) throw new AbortedError(`ask ${type} to ${cell.address}`, { cause: options.signal.reason });
    const job = new AskJob(this.host, cell, message);
    this.admission.admit(cell, job);
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
    let request: StreamRequest;
    try {
      request = {
        highWaterMark: checkCount(options.highWaterMark, this.settings.highWaterMark, 'highWaterMark'),
        timeout: checkTimeout(options.timeout, this.settings.streamTimeout, 'timeout'),
        ...this.admission.prepare(to, type, payload, MessagePattern.Stream, options),
        options,
      };
    } catch (error) {
      // Bad arguments are routing errors too: a stream that rejects, not a synchronous throw.
      return rejectedStream(this.host, String(to), error as ActorError);
    }
    return openStream(this.host, request);
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
    return this.observers.subscribe(parseAddress(to), listener, options);
  }

  /** Observes the dead-letter channel. Returns a function that ends the subscription. */
  onDeadLetter(listener: (deadLetter: DeadLetter) => void): () => void {
    return this.deadLetters.subscribe(listener);
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
          cell.stop(new ActorStoppedError(cell.id, 'router disposed'), { drain: false, timeoutMs: this.settings.stopTimeout }),
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
}
