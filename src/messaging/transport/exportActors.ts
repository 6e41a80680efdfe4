import type { Logger } from 'pino';
import { parseAddress } from '../address.js';
import { type Clock, systemClock } from '../Clock.js';
import { AbortedError, ActorFailedError, ActorNotFoundError, describe } from '../errors.js';
import type { MessageRouter } from '../MessageRouter.js';
import { ExportedStream, frameSendOptions } from './ExportedStream.js';
import {
  type AskFrame,
  type ExportedActor,
  type StreamFrame,
  type TellFrame,
  type TransportFrame,
  TransportFrameType,
} from './frames.js';
import type { Transport, TransportSendOptions } from './Transport.js';
import { errorToWire } from './wireErrors.js';

/** Options of {@link exportActors}. */
export interface ExportActorsOptions {
  /** Which actors to serve: their ids, or a predicate on the id. Defaults to every actor of the router. */
  actors?: readonly string[] | ((id: string) => boolean);
  /** pino logger. Defaults to the router's. */
  logger?: Logger;
  /** Time source of the watch for new actors. Defaults to the system clock. */
  clock?: Clock;
  /**
   * How often to look for actors registered or unregistered since the last hello, in ms, and send a
   * new hello when they changed. Defaults to `Infinity` (never: call {@link ActorExport.refresh}).
   */
  watchMs?: number;
}

/** The serving side of a transport, made by {@link exportActors}. */
export interface ActorExport extends AsyncDisposable {
  /** The actors the last hello listed. */
  readonly actors: readonly ExportedActor[];
  /** Sends a new hello if the exported actors (or their protocols) changed since the last one. */
  refresh(): void;
  /** Aborts every call it is running and stops serving; the transport stays open. Idempotent. */
  dispose(): Promise<void>;
}

/** One call being served: how to abort it, and its end. */
interface ServedCall {
  cancel(): void;
  grant?(n: number): void;
  done?: Promise<void>;
}

/** @internal The implementation of {@link exportActors}. */
class ActorExporter implements ActorExport {
  actors: readonly ExportedActor[] = [];
  private readonly served = new Map<number, ServedCall>();
  private readonly unsubscribe: Array<() => void>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly exports: (id: string) => boolean;
  private lastHello: string | undefined;
  private watchTimer: unknown;
  private disposing: Promise<void> | undefined;

  constructor(
    private readonly router: MessageRouter,
    private readonly transport: Transport,
    private readonly options: ExportActorsOptions,
  ) {
    this.logger = options.logger ?? router.logger;
    this.clock = options.clock ?? systemClock;
    const filter = options.actors;
    this.exports = typeof filter === 'function' ? filter : filter ? ((ids) => (id) => ids.has(id))(new Set(filter)) : () => true;
    this.unsubscribe = [transport.onFrame((frame) => this.onFrame(frame)), transport.onClose(() => this.abortAll())];
    this.sendHello(true);
    this.watch();
  }

  refresh(): void {
    this.sendHello(false);
  }

  private onFrame(frame: TransportFrame): void {
    if (this.disposing) return;
    switch (frame.type) {
      case TransportFrameType.Hello:
        if (frame.actors === undefined) this.sendHello(true);
        break;
      case TransportFrameType.Ask:
        this.serveAsk(frame);
        break;
      case TransportFrameType.Tell:
        this.serveTell(frame);
        break;
      case TransportFrameType.Stream:
        this.serveStream(frame);
        break;
      case TransportFrameType.Credit:
        this.served.get(frame.id)?.grant?.(frame.n);
        break;
      case TransportFrameType.Cancel:
        this.served.get(frame.id)?.cancel();
        break;
      case TransportFrameType.Ping:
        this.send({ type: TransportFrameType.Pong, seq: frame.seq });
        break;
      default:
        // Replies, chunks, pongs and hellos are for a TransportPeer on this side of the transport.
        break;
    }
  }

  private serveAsk(frame: AskFrame): void {
    const { id, to, messageType } = frame;
    const controller = new AbortController();
    const call: ServedCall = {
      cancel: () => controller.abort(new AbortedError(`ask ${messageType} to @(${to}) (its caller cancelled it)`)),
    };
    this.served.set(id, call);
    const reply = this.exports(to)
      ? this.router.ask(to, messageType, frame.payload, {
          ...frameSendOptions(frame),
          timeout: frame.timeout ?? Number.POSITIVE_INFINITY,
          signal: controller.signal,
        })
      : Promise.reject(new ActorNotFoundError(to));
    call.done = reply
      .then(
        (value) => this.reply(frame, value),
        (error: unknown) => {
          // A cancelled call's caller has its answer already.
          if (!controller.signal.aborted) this.send({ type: TransportFrameType.Fail, id, error: errorToWire(error, to) });
        },
      )
      .finally(() => {
        if (this.served.get(id) === call) this.served.delete(id);
      });
  }

  private reply(frame: AskFrame, value: unknown): void {
    try {
      this.send({ type: TransportFrameType.Reply, id: frame.id, value });
    } catch (error) {
      const why = new TypeError(`its reply to ${frame.messageType} cannot cross the transport: ${describe(error)}`);
      this.send({ type: TransportFrameType.Fail, id: frame.id, error: errorToWire(new ActorFailedError(frame.to, why)) });
    }
  }

  private serveTell(frame: TellFrame): void {
    if (!this.exports(frame.to)) {
      this.logger.debug({ to: frame.to, type: frame.messageType }, 'export: tell to an actor not exported, dropped');
      return;
    }
    this.router.tell(frame.to, frame.messageType, frame.payload, frameSendOptions(frame));
  }

  private serveStream(frame: StreamFrame): void {
    const { id, to } = frame;
    if (!this.exports(to)) {
      this.send({ type: TransportFrameType.Fail, id, error: errorToWire(new ActorNotFoundError(to)) });
      return;
    }
    const stream = new ExportedStream(frame, (f, options) => this.send(f, options));
    const call: ServedCall = { cancel: () => stream.cancel(), grant: (n) => stream.grant(n) };
    this.served.set(id, call);
    call.done = stream
      .run(this.router)
      .catch((error: unknown) => this.logger.error({ err: error }, 'export: a stream failed to run'))
      .finally(() => {
        if (this.served.get(id) === call) this.served.delete(id);
      });
  }

  /** The actors to list now, with their protocols as plain data. */
  private exported(): ExportedActor[] {
    return this.router
      .actors()
      .map((address) => parseAddress(address))
      .filter((id) => this.exports(id))
      .map((id) => {
        const protocol = this.router.protocolOf(id);
        return { id, protocol: protocol ? { kind: protocol.kind, messages: { ...protocol.messages } } : null };
      });
  }

  private sendHello(always: boolean): void {
    if (this.disposing) return;
    const actors = this.exported();
    const key = JSON.stringify(actors);
    if (!always && key === this.lastHello) return;
    this.lastHello = key;
    this.actors = actors;
    this.send({ type: TransportFrameType.Hello, actors });
  }

  private watch(): void {
    const ms = this.options.watchMs ?? Number.POSITIVE_INFINITY;
    if (!(ms > 0 && ms < 2 ** 31) || this.disposing || this.transport.closed) return;
    this.watchTimer = this.clock.setTimeout(() => {
      this.watchTimer = undefined;
      this.refresh();
      this.watch();
    }, ms);
    // The watch alone must not keep a process alive.
    (this.watchTimer as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Sends, unless the transport closed; a frame that cannot be serialized throws to the caller here. */
  private send(frame: TransportFrame, options?: TransportSendOptions): void {
    if (!this.transport.closed) this.transport.send(frame, options);
  }

  private abortAll(): void {
    for (const call of this.served.values()) call.cancel();
    if (this.watchTimer !== undefined) this.clock.clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const unsubscribe of this.unsubscribe) unsubscribe();
      const running = [...this.served.values()].map((call) => call.done);
      this.abortAll();
      await Promise.allSettled(running);
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/**
 * Serves a router's actors over a transport: the other side's {@link TransportPeer} (and the
 * {@link RemoteActor}s in front of it) reaches them with the same asks, tells and streams as in
 * process. It sends a hello listing them (id and protocol), runs each frame as `router.ask`,
 * `router.tell` or `router.stream` (with no timeout of its own: the caller keeps its timeouts and
 * sends a cancel), sends stream events only against the caller's credit, answers pings, and aborts
 * everything it started when the transport closes or it is disposed.
 *
 * @example
 * ```ts
 * // In the host process: serve this router's actors to the parent.
 * const router = new MessageRouter();
 * router.registerActor('model/tiny', new ModelActor({ modelPath }));
 * const transport = parentProcessTransport();
 * const exported = exportActors(router, transport);
 * transport.onClose(() => void exported.dispose().then(() => router.dispose()).then(() => process.exit(0)));
 * ```
 */
export function exportActors(router: MessageRouter, transport: Transport, options: ExportActorsOptions = {}): ActorExport {
  return new ActorExporter(router, transport, options);
}
