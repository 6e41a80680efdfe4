import type { Logger } from 'pino';
import { type Address, parseAddress } from '../address.js';
import { type Clock, systemClock } from '../Clock.js';
import { Deferred } from '../Deferred.js';
import { AbortedError, type ActorError, DisposedError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { defaultLogger } from '../logger.js';
import { checkCount, checkTimeout } from '../MessageRouterOptions.js';
import type { StreamCallback, TokenStreamEvent } from '../TokenStreamEvent.js';
import { untilAborted } from '../untilAborted.js';
import { ActorHostLostError } from './ActorHostLostError.js';
import { type ExportedActor, type TransportFrame, TransportFrameType } from './frames.js';
import { PeerStream, type PeerStreamHost, type StreamEnd } from './PeerStream.js';
import type { Transport, TransportCloseReason } from './Transport.js';
import { notSerializable, type PeerAskOptions, type PeerSendOptions, type PeerStreamOptions, sendFields, type TransportPeerOptions } from './TransportPeerOptions.js';
import { errorFromWire } from './wireErrors.js';
import { Heartbeat } from './Heartbeat.js';

export type { StreamEnd } from './PeerStream.js';
export type { PeerAskOptions, PeerSendOptions, PeerStreamOptions, TransportPeerOptions } from './TransportPeerOptions.js';

/** An ask in flight: how to answer its caller. */
interface PendingAsk {
  readonly actorId: string;
  settle(error: ActorError | undefined, value?: unknown): void;
}

/** The longest delay a timer holds; a longer timeout means none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The calling side of one transport: asks, tells and streams to the actors an {@link exportActors}
 * serves on the other side, with the router's semantics (typed errors with their class and code,
 * timeouts, abort, stream events in order with exactly one terminal, backpressure by credit). It
 * pings the other side every `heartbeatMs`; when the transport closes, the host dies or stays
 * silent for `heartbeatTimeoutMs`, every call in flight fails at once with `ACTOR_HOST_LOST` naming
 * the exit code or signal, and later calls fail the same way. Usually reached through
 * {@link RemoteActor}s (see {@link connectActors}) rather than directly.
 *
 * @example
 * ```ts
 * const child = fork('host.js', [], { serialization: 'advanced' });
 * await using peer = new TransportPeer(new ChildProcessTransport(child), { heartbeatTimeoutMs: 10_000 });
 * peer.onLost((error) => console.error(error.message)); // actor host lost: its host process exited with signal SIGKILL
 * console.log(await peer.ask('counter/main', 'add', { by: 2 }, { timeout: 1_000 }));
 * await peer.stream('writer/main', 'write', { words: 3 }, (event) => void console.log(event.type));
 * ```
 */
export class TransportPeer implements AsyncDisposable {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly highWaterMark: number;
  private nextId = 1;
  private nextSeq = 1;
  private readonly asks = new Map<number, PendingAsk>();
  private readonly streams = new Map<number, PeerStream>();
  private readonly pings = new Map<number, { deferred: Deferred<number>; sentAt: number }>();
  private readonly hello = new Deferred<readonly ExportedActor[]>();
  private latest: readonly ExportedActor[] | undefined;
  private latestKey = '';
  private readonly actorListeners = new Set<(actors: readonly ExportedActor[]) => void>();
  private readonly lostListeners = new Set<(error: ActorHostLostError) => void>();
  private lostReason: TransportCloseReason | undefined;
  private disposing: Promise<void> | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly unsubscribe: Array<() => void>;
  private readonly streamHost: PeerStreamHost;

  /** @throws {InvalidArgumentError} for a bad heartbeat or window option. */
  constructor(
    readonly transport: Transport,
    private readonly options: TransportPeerOptions = {},
  ) {
    this.logger = options.logger ?? defaultLogger();
    this.clock = options.clock ?? systemClock;
    const heartbeatMs = checkTimeout(options.heartbeatMs, 1_000, 'heartbeatMs');
    const heartbeatTimeoutMs = checkTimeout(options.heartbeatTimeoutMs, 5_000, 'heartbeatTimeoutMs');
    this.highWaterMark = checkCount(options.highWaterMark, 64, 'highWaterMark');
    // Nobody may be waiting for the hello when the host is lost; that rejection is no one's to handle.
    this.hello.promise.catch(() => {});
    this.streamHost = {
      sendControl: (frame) => this.sendControl(frame),
      now: () => this.clock.now(),
      finished: (id) => void this.streams.delete(id),
      report: (error, source) => this.logger.error({ err: error }, `transport peer: ${source} threw`),
    };
    this.unsubscribe = [transport.onFrame((frame) => this.onFrame(frame)), transport.onClose((reason) => this.lose(reason, false))];
    // The exporter's own hello may have gone by before we listened: ask for one.
    this.sendControl({ type: TransportFrameType.Hello });
    this.heartbeat = new Heartbeat(
      this.clock,
      heartbeatMs,
      heartbeatTimeoutMs,
      () => this.sendControl({ type: TransportFrameType.Ping, seq: this.nextSeq++ }),
      () => this.lose({ message: `its host answered no heartbeat for ${heartbeatTimeoutMs} ms` }, true),
    );
  }

  /** True once the other side is lost (transport closed, host dead or silent) or the peer disposed. */
  get lost(): boolean {
    return this.lostReason !== undefined || this.disposing !== undefined;
  }

  /**
   * The actors the other side exports, from its hello (waiting for the first one).
   *
   * @throws {ActorHostLostError} when the other side is lost before it said hello; `ABORTED` when `signal` fires.
   * @example
   * ```ts
   * for (const { id, protocol } of await peer.actors()) console.log(id, protocol?.kind);
   * ```
   */
  async actors(options: { signal?: AbortSignal } = {}): Promise<readonly ExportedActor[]> {
    if (this.latest) return this.latest;
    this.assertUsable(undefined);
    return options.signal ? untilAborted(this.hello.promise, options.signal, 'waiting for the actors of a transport peer') : this.hello.promise;
  }

  /** Called with the exported actors on each hello that changes them. Returns a function that stops listening. */
  onActors(listener: (actors: readonly ExportedActor[]) => void): () => void {
    this.actorListeners.add(listener);
    return () => void this.actorListeners.delete(listener);
  }

  /**
   * Called once when the other side is lost, after every call in flight has been failed (at once,
   * on a microtask, when it is lost already). Not called for `dispose()`. Returns a function that
   * stops listening.
   */
  onLost(listener: (error: ActorHostLostError) => void): () => void {
    const reason = this.lostReason;
    if (reason !== undefined) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) listener(new ActorHostLostError(undefined, reason));
      });
      return () => void (cancelled = true);
    }
    this.lostListeners.add(listener);
    return () => void this.lostListeners.delete(listener);
  }

  /**
   * Asks the remote actor `to` and resolves with its reply.
   *
   * @throws the remote actor's error with its class and code (registered with `registerWireErrors`),
   *   `TIMEOUT`, `ABORTED`, {@link ActorHostLostError}, `DISPOSED`, or `INVALID_ARGUMENT` for a
   *   payload that cannot cross the transport.
   * @example
   * ```ts
   * const total = await peer.ask('counter/main', 'add', { by: 2 }, { timeout: 1_000, signal });
   * ```
   */
  async ask<R = unknown>(to: Address | string, type: string, payload: unknown, options: PeerAskOptions = {}): Promise<R> {
    const actorId = parseAddress(to);
    const what = `ask ${type} to @(${actorId})`;
    const timeout = checkTimeout(options.timeout, Number.POSITIVE_INFINITY, 'timeout');
    this.assertUsable(actorId);
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError(what, { cause: signal.reason });
    const id = this.nextId++;
    const reply = new Deferred<unknown>();
    let timer: unknown;
    const onAbort = (): void => this.cancelAsk(id, new AbortedError(what, { cause: signal?.reason }));
    this.asks.set(id, {
      actorId,
      settle: (error, value) => {
        if (!this.asks.delete(id)) return;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reply.reject(error);
        else reply.resolve(value);
      },
    });
    try {
      this.transport.send({ type: TransportFrameType.Ask, id, to: actorId, messageType: type, payload, ...sendFields(options) });
    } catch (error) {
      this.asks.get(id)?.settle(notSerializable(what, error));
      return reply.promise as Promise<R>;
    }
    if (timeout <= MAX_TIMER_MS) timer = this.clock.setTimeout(() => this.cancelAsk(id, new TimeoutError(timeout, what)), timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
    return reply.promise as Promise<R>;
  }

  /**
   * Fire and forget to the remote actor `to`.
   *
   * @returns `false` when the other side is lost (nothing was sent), else `true`: delivery problems
   *   over there (no such actor, a full mailbox) are the other router's dead letters.
   * @throws {InvalidArgumentError} when the payload cannot cross the transport.
   * @example
   * ```ts
   * peer.tell('audit/log', 'record', { event: 'login' });
   * ```
   */
  tell(to: Address | string, type: string, payload: unknown, options: PeerSendOptions = {}): boolean {
    const actorId = parseAddress(to);
    if (this.lost) return false;
    try {
      this.transport.send({ type: TransportFrameType.Tell, to: actorId, messageType: type, payload, ...sendFields(options) });
    } catch (error) {
      throw notSerializable(`tell ${type} to @(${actorId})`, error);
    }
    return true;
  }

  /**
   * Streams from the remote actor `to`: every event to `onChunk` in order, awaited (a slow callback
   * slows the remote producer, through credit), the terminal `done` or `error` last. Resolves after
   * the terminal event was delivered, with it and its error; rejects only when the stream never
   * started (no such actor, a message it does not stream, an aborted signal, a lost host).
   *
   * @example
   * ```ts
   * const { event, error } = await peer.stream('writer/main', 'write', { words: 3 }, (e) => {
   *   if (e.type === 'token') process.stdout.write(e.content ?? '');
   * }, { highWaterMark: 16, signal });
   * ```
   */
  async stream(
    to: Address | string,
    type: string,
    payload: unknown,
    onChunk: StreamCallback<TokenStreamEvent>,
    options: PeerStreamOptions = {},
  ): Promise<StreamEnd> {
    const actorId = parseAddress(to);
    const what = `stream ${type} to @(${actorId})`;
    if (typeof onChunk !== 'function') throw new InvalidArgumentError(`${what} needs an onChunk callback`);
    const window = checkCount(options.highWaterMark, this.highWaterMark, 'highWaterMark');
    this.assertUsable(actorId);
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError(what, { cause: signal.reason });
    const id = this.nextId++;
    const stream = new PeerStream(this.streamHost, id, actorId, onChunk, window);
    this.streams.set(id, stream);
    try {
      this.transport.send({ type: TransportFrameType.Stream, id, to: actorId, messageType: type, payload, credit: window, ...sendFields(options) });
    } catch (error) {
      this.streams.delete(id);
      throw notSerializable(what, error);
    }
    const onAbort = (): void => stream.endWith(new AbortedError(what, { cause: signal?.reason }), true);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await stream.end.promise;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One round trip to the other side, in ms (what a heartbeat measures).
   *
   * @example
   * ```ts
   * console.log(`rtt ${(await peer.ping()).toFixed(2)} ms`);
   * ```
   */
  async ping(options: { signal?: AbortSignal } = {}): Promise<number> {
    this.assertUsable(undefined);
    const seq = this.nextSeq++;
    const deferred = new Deferred<number>();
    this.pings.set(seq, { deferred, sentAt: this.clock.now() });
    this.sendControl({ type: TransportFrameType.Ping, seq });
    if (!options.signal) return deferred.promise;
    try {
      return await untilAborted(deferred.promise, options.signal, 'ping');
    } finally {
      this.pings.delete(seq);
    }
  }

  private onFrame(frame: TransportFrame): void {
    this.heartbeat.heard();
    switch (frame.type) {
      case TransportFrameType.Hello:
        if (frame.actors !== undefined) this.helloed(frame.actors);
        break;
      case TransportFrameType.Reply:
        this.asks.get(frame.id)?.settle(undefined, frame.value);
        break;
      case TransportFrameType.Fail: {
        const error = errorFromWire(frame.error);
        const ask = this.asks.get(frame.id);
        if (ask) ask.settle(error);
        else this.streams.get(frame.id)?.failed(error);
        break;
      }
      case TransportFrameType.Chunk:
        this.streams.get(frame.id)?.chunk(frame.event, frame.error);
        break;
      case TransportFrameType.Pong: {
        const ping = this.pings.get(frame.seq);
        this.pings.delete(frame.seq);
        ping?.deferred.resolve(this.clock.now() - ping.sentAt);
        break;
      }
      default:
        // Asks, streams, credit, cancels and pings are for an exporter on this side of the transport.
        break;
    }
  }

  private helloed(actors: readonly ExportedActor[]): void {
    const key = JSON.stringify(actors);
    const changed = key !== this.latestKey;
    this.latest = actors;
    this.latestKey = key;
    this.hello.resolve(actors);
    if (changed) this.notify(this.actorListeners, actors, 'an actors listener');
  }

  /** Calls each listener; one that throws is logged and does not keep the value from the others. */
  private notify<T>(listeners: Iterable<(value: T) => void>, value: T, what: string): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.logger.error({ err: error }, `transport peer: ${what} threw`);
      }
    }
  }

  private cancelAsk(id: number, error: ActorError): void {
    const ask = this.asks.get(id);
    if (!ask) return;
    this.sendControl({ type: TransportFrameType.Cancel, id });
    ask.settle(error);
  }

  /** The other side is gone: every call in flight fails with ACTOR_HOST_LOST, at once. */
  private lose(reason: TransportCloseReason, closeTransport: boolean): void {
    if (this.lost) return;
    this.lostReason = reason;
    this.stop((actorId) => new ActorHostLostError(actorId, reason), false);
    this.logger.warn({ reason }, 'transport peer: the other side is lost');
    this.notify([...this.lostListeners], new ActorHostLostError(undefined, reason), 'a lost listener');
    this.lostListeners.clear();
    // A silent host may still be there: closing tells it (a child sees its channel close and exits).
    if (closeTransport) void this.transport.close();
  }

  /** Fails everything in flight with `errorFor(actorId)` and stops heartbeats and listening. */
  private stop(errorFor: (actorId: string | undefined) => ActorError, cancelRemote: boolean): void {
    this.heartbeat.stop();
    for (const [id, ask] of [...this.asks]) {
      if (cancelRemote) this.sendControl({ type: TransportFrameType.Cancel, id });
      ask.settle(errorFor(ask.actorId));
    }
    for (const stream of [...this.streams.values()]) stream.endWith(errorFor(stream.actorId), cancelRemote);
    for (const { deferred } of this.pings.values()) deferred.reject(errorFor(undefined));
    this.pings.clear();
    this.hello.reject(errorFor(undefined));
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  private assertUsable(actorId: string | undefined): void {
    if (this.disposing) throw new DisposedError('TransportPeer');
    if (this.lostReason !== undefined) throw new ActorHostLostError(actorId, this.lostReason);
  }

  /** Sends a frame of our own making (always serializable), unless the transport closed. */
  private sendControl(frame: TransportFrame): void {
    if (this.transport.closed) return;
    try {
      this.transport.send(frame);
    } catch (error) {
      this.logger.error({ err: error }, 'transport peer: a control frame was not sent');
    }
  }

  /**
   * Fails every call in flight with `DISPOSED` (cancelling them on the other side), stops the
   * heartbeats and, unless `closeTransport: false`, closes the transport. Idempotent.
   *
   * @example
   * ```ts
   * await using peer = new TransportPeer(transport); // disposed at the end of the scope
   * ```
   */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      if (this.lostReason === undefined) this.stop(() => new DisposedError('TransportPeer'), true);
      if (this.options.closeTransport ?? true) await this.transport.close();
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
