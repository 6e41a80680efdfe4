import type { Logger } from 'pino';
import type { ActorRef } from './ActorRef.js';
import type { Address } from './address.js';
import type { Protocol, ProtocolShape } from './protocol.js';
import type { GenerationResult } from './GenerationResult.js';
import type { GenerationStream } from './GenerationStream.js';
import type { Message } from './Message.js';
import type { SupervisionPolicy } from './SupervisionPolicy.js';
import type { StreamCallback, TokenStreamEvent } from './TokenStreamEvent.js';

/** Options common to every send. */
export interface SendOptions {
  /** The sender's address. Filled in automatically for sends made through an actor's context. */
  from?: Address;
  /** A tag observers can filter on (see `MessageRouter.subscribe`). */
  scope?: string;
  /**
   * Refuses delivery with `ACTOR_KIND_MISMATCH` unless the actor's protocol is of this kind. Set by
   * {@link ActorRef}s; rarely useful by hand.
   */
  expectKind?: string;
}

/** Options of `ask`. */
export interface AskOptions extends SendOptions {
  /** Milliseconds before the ask fails with `TIMEOUT`; `Infinity` for none. Defaults to the router's `askTimeout` (`5_000`). */
  timeout?: number;
  /** Aborts the ask: the caller gets `ABORTED` at once and the actor's `context.signal` fires. */
  signal?: AbortSignal;
}

/** Options of `stream` (the iterable form). */
export interface StreamRequestOptions extends SendOptions {
  /** Milliseconds before the whole stream fails with `TIMEOUT`; `Infinity` for none. Defaults to the router's `streamTimeout` (`Infinity`). */
  timeout?: number;
  /** Aborts the stream: it ends with an `ABORTED` error event and the actor's `context.signal` fires. */
  signal?: AbortSignal;
  /** Events buffered per consumer before the producer's `onChunk` waits. Defaults to the router's `highWaterMark` (`64`). */
  highWaterMark?: number;
}

/** Options of `streamAsk` (the callback form), the seed's `StreamOptions<R>`. */
export interface StreamOptions<R = TokenStreamEvent> extends StreamRequestOptions {
  /** Receives every event in order, the terminal `done` or `error` last. Awaited: a slow callback slows the producer. */
  onChunk: StreamCallback<R>;
}

/** What an actor can do with the router from inside a handler. */
export interface ActorRouter {
  /** A typed handle on the actor at `to` (see {@link ActorRef}). */
  ref<T extends ProtocolShape>(to: Address | string, protocol: Protocol<T>): ActorRef<T>;
  tell<P>(to: Address | string, type: string, payload: P, options?: SendOptions): boolean;
  ask<R = unknown, P = unknown>(to: Address | string, type: string, payload: P, options?: AskOptions): Promise<R>;
  streamAsk<P>(to: Address | string, type: string, payload: P, options: StreamOptions): Promise<GenerationResult>;
  stream<P>(to: Address | string, type: string, payload: P, options?: StreamRequestOptions): GenerationStream;
}

/** What a handler gets besides its message. */
export interface ActorContext {
  /** The actor's own address. */
  readonly self: Address;
  /** The envelope being handled. */
  readonly message: Message;
  /** Fires when the caller aborts, the request times out, or the actor is being stopped. */
  readonly signal: AbortSignal;
  /** A pino child logger bound to this actor. */
  readonly logger: Logger;
  /** The router, with `from` set to this actor for everything sent through it. */
  readonly router: ActorRouter;
  /** Publishes the actor's own state (e.g. `loading`, `ready`) to the router's inspection hook. */
  readonly reportState: StateReporter;
  /**
   * Ends this message's exclusive turn: the next exclusive message starts while this handler goes on
   * to finish its reply or stream beside it (OTP's `noreply` and a later `gen_server:reply`). For
   * work that starts with a state change and then runs long, e.g. a training session: the start is
   * atomic, the run does not block the mailbox. Does nothing for concurrent-lane messages.
   */
  readonly releaseLane: () => void;
  /**
   * The exclusive-lane messages waiting behind the running ones, oldest first (Erlang's
   * `process_info(self(), messages)`): a concurrent reader can answer about work that has arrived
   * but not started, e.g. wait for a turn still queued.
   */
  readonly waiting: () => readonly Message[];
}

/** Publishes an actor's self-reported state as an `@actor.state` inspection event. */
export type StateReporter = (state: string, detail?: unknown) => void;

/** What `onStart` / `onStop` get. */
export interface ActorLifecycleContext {
  readonly self: Address;
  readonly logger: Logger;
  readonly router: ActorRouter;
  /** How many times this actor has been restarted so far (0 on the first start). */
  readonly restarts: number;
  /** Publishes the actor's own state to the router's inspection hook (see {@link ActorContext.reportState}). */
  readonly reportState: StateReporter;
  /**
   * Reports a failure outside any handler (a linked host process died, a connection the actor owns
   * broke): the supervision policy decides exactly as for a handler that threw (restart, resume or
   * stop). Reported while `onStart` is still running, it is handled once `onStart` has returned;
   * ignored once this instance has stopped, for a stale instance (one restarted since), and while
   * the actor is already restarting or stopping.
   */
  readonly fail: (error: unknown) => void;
}

/** Per-actor options of `registerActor`. */
export interface ActorOptions {
  /** Messages that may wait in the mailbox (not counting those running). Defaults to the router's `mailboxSize` (`1_000`). */
  mailboxSize?: number;
  /**
   * Exclusive-lane messages handled at once; order of starting is always FIFO. Defaults to `1`
   * (one at a time: the actor's state needs no locking). Declare concurrent message types in the
   * actor's protocol instead of raising this.
   */
  concurrency?: number;
  /** Concurrent-lane messages running at once; more wait in the mailbox. Defaults to `mailboxSize`. */
  maxConcurrent?: number;
  /** Overrides the router's supervision policy for this actor. */
  supervision?: SupervisionPolicy;
}
