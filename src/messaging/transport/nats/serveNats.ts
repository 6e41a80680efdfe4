import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../../errors.js';
import type { MessageRouter } from '../../MessageRouter.js';
import { type ActorExport, exportActors, type ExportActorsOptions } from '../exportActors.js';
import { NatsTransport } from './NatsTransport.js';
import { encodeFrame, inboxOf } from './natsWire.js';

/** Options of {@link serveNats}. */
export interface ServeNatsOptions extends ExportActorsOptions {
  /** The service subject callers connect to (`connectNats({ subject })`), e.g. `la.models.connect`. Required. */
  subject: string;
  /**
   * The NATS queue group: replicas serving the same actors on the same subject join one group, and
   * NATS hands each connect to one of them. Defaults to the subject itself.
   */
  queue?: string;
  /**
   * How long a connection may stay silent before it is closed and everything it started is aborted,
   * in ms: how a caller that vanished (killed, partitioned) is noticed. A caller's `TransportPeer`
   * pings every `heartbeatMs` (`1_000` by default), so keep this well above that. Defaults to `10_000`.
   */
  idleTimeoutMs?: number;
  /** Whether a connection closes when the NATS connection loses its server (see {@link NatsTransportOptions.closeOnDisconnect}). Defaults to `true`. */
  closeOnDisconnect?: boolean;
}

/** One caller's connection, as {@link serveNats} serves it. */
export interface NatsServedConnection {
  /** The exporter's end of the connection. */
  readonly transport: NatsTransport;
  /** The export serving it (disposed when the connection closes). */
  readonly exported: ActorExport;
}

/** What {@link serveNats} returns: the listening exporter. */
export interface NatsActorServer extends AsyncDisposable {
  readonly subject: string;
  readonly queue: string;
  /** The connections open now. */
  readonly connections: readonly NatsServedConnection[];
  /** Called with each new connection, once its export runs. Returns a function that stops listening. */
  onConnection(listener: (connection: NatsServedConnection) => void): () => void;
  /** Stops listening, closes every connection (their callers are told) and waits for their calls to end. Idempotent. */
  dispose(): Promise<void>;
}

/** @internal The implementation of {@link serveNats}. */
class NatsExporter implements NatsActorServer {
  readonly subject: string;
  readonly queue: string;
  private readonly open = new Set<NatsServedConnection>();
  private readonly ended = new Set<Promise<void>>();
  private readonly listeners = new Set<(connection: NatsServedConnection) => void>();
  private readonly subscription: Subscription;
  private readonly logger: Logger;
  private disposing: Promise<void> | undefined;

  constructor(
    private readonly router: MessageRouter,
    private readonly nc: NatsConnection,
    private readonly options: ServeNatsOptions,
  ) {
    this.subject = options.subject;
    this.queue = options.queue ?? options.subject;
    this.logger = options.logger ?? router.logger;
    this.subscription = nc.subscribe(this.subject, { queue: this.queue, callback: (error, msg) => this.onConnect(error, msg) });
  }

  get connections(): readonly NatsServedConnection[] {
    return [...this.open];
  }

  onConnection(listener: (connection: NatsServedConnection) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private onConnect(error: Error | null, msg: Msg): void {
    if (error) {
      this.logger.error({ err: error, subject: this.subject }, 'serveNats: the service subscription failed');
      return;
    }
    if (this.disposing) return;
    const callerInbox = inboxOf(msg.string());
    if (callerInbox === undefined) {
      this.logger.warn({ subject: this.subject }, 'serveNats: a connect request names no inbox, refused');
      msg.respond(encodeFrame({ error: 'a connect request names the caller’s inbox: {"inbox":"…"}' }));
      return;
    }
    const { subject: _subject, queue: _queue, idleTimeoutMs, closeOnDisconnect, ...exportOptions } = this.options;
    const transport = new NatsTransport(this.nc, {
      inbox: createInbox(),
      peer: callerInbox,
      logger: this.logger,
      ...(exportOptions.clock ? { clock: exportOptions.clock } : {}),
      idleTimeoutMs: idleTimeoutMs ?? 10_000,
      closeOnDisconnect: closeOnDisconnect ?? true,
    });
    const connection: NatsServedConnection = { transport, exported: exportActors(this.router, transport, { logger: this.logger, ...exportOptions }) };
    this.open.add(connection);
    transport.onClose(() => {
      this.open.delete(connection);
      const end = connection.exported.dispose();
      this.ended.add(end);
      void end.finally(() => this.ended.delete(end));
    });
    // Subscribed before answering: the caller's first frame cannot outrun the subscription.
    msg.respond(encodeFrame({ inbox: transport.inbox }));
    for (const listener of this.listeners) {
      try {
        listener(connection);
      } catch (thrown) {
        this.logger.error({ err: thrown }, 'serveNats: a connection listener threw');
      }
    }
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      try {
        if (!this.nc.isClosed()) this.subscription.unsubscribe();
      } catch (error) {
        this.logger.debug({ err: error }, 'serveNats: unsubscribe failed');
      }
      const open = [...this.open];
      await Promise.all(open.map((connection) => connection.transport.close()));
      await Promise.allSettled([...open.map((connection) => connection.exported.dispose()), ...this.ended]);
      this.listeners.clear();
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/**
 * Serves a router's actors over NATS: listens for connects on `subject` (in a queue group, so that
 * replicas share the callers), and for each one opens a point-to-point {@link NatsTransport}
 * between two inboxes with an {@link exportActors} over it, so the caller's {@link TransportPeer}
 * (see {@link connectNats}) reaches the actors as over any transport. A connection ends when its
 * caller closes it, when the NATS connection closes or loses its server, or when the caller falls
 * silent for `idleTimeoutMs`; everything it started is aborted then. The NATS connection stays the
 * caller's to close.
 *
 * @throws {InvalidArgumentError} for an empty subject or a closed connection.
 * @example
 * ```ts
 * const nc = await connect({ servers: '127.0.0.1:4222' });
 * const router = new MessageRouter();
 * router.registerActor('model/tiny', new ModelActor({ modelPath }));
 * await using server = serveNats(router, nc, { subject: 'la.models.connect' });
 * ```
 */
export function serveNats(router: MessageRouter, nc: NatsConnection, options: ServeNatsOptions): NatsActorServer {
  if (!options.subject) throw new InvalidArgumentError(`serveNats needs a subject, got ${JSON.stringify(options.subject)}`);
  if (nc.isClosed()) throw new InvalidArgumentError(`serveNats needs an open NATS connection (subject ${options.subject})`);
  return new NatsExporter(router, nc, options);
}
