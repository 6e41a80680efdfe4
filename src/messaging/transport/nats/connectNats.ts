import { createInbox, errors, type Msg, type NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { Clock } from '../../Clock.js';
import { ActorError, describe, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { untilAborted } from '../../untilAborted.js';
import { NatsConnectFailedError } from './NatsConnectFailedError.js';
import { NatsConnectionClosedError } from './NatsConnectionClosedError.js';
import { NatsTransport } from './NatsTransport.js';
import { CLOSE_MESSAGE, encodeFrame, inboxOf } from './natsWire.js';
import { NoRespondersError } from './NoRespondersError.js';

/** Options of {@link connectNats}. */
export interface ConnectNatsOptions {
  /** The service subject a {@link serveNats} listens on, e.g. `la.models.connect`. Required. */
  subject: string;
  /** Milliseconds to wait for an exporter's answer before failing with `TIMEOUT`. Defaults to `5_000`. */
  timeout?: number;
  /** Aborts the connect: it rejects with `ABORTED` at once (an exporter that answers later is told to close). */
  signal?: AbortSignal;
  /** pino logger of the transport. Defaults to the kernel's default logger. */
  logger?: Logger;
  /** Time source of the transport's idle timeout. Defaults to the system clock. */
  clock?: Clock;
  /** See {@link NatsTransportOptions.idleTimeoutMs}: the caller's `TransportPeer` heartbeats already watch the exporter. Defaults to `Infinity`. */
  idleTimeoutMs?: number;
  /** See {@link NatsTransportOptions.closeOnDisconnect}. Defaults to `true`. */
  closeOnDisconnect?: boolean;
}

/** The typed error of a failed connect request. */
function connectError(error: unknown, subject: string, timeout: number, nc: NatsConnection): ActorError {
  if (error instanceof ActorError) return error;
  const cause = error instanceof Error ? error.cause : undefined;
  if (error instanceof errors.RequestError && error.isNoResponders()) return new NoRespondersError(subject);
  if (error instanceof errors.NoRespondersError || cause instanceof errors.NoRespondersError) return new NoRespondersError(subject);
  if (error instanceof errors.TimeoutError || cause instanceof errors.TimeoutError) return new TimeoutError(timeout, `connect to NATS subject ${subject}`);
  if (error instanceof errors.ClosedConnectionError || nc.isClosed()) return new NatsConnectionClosedError(subject, 'closed', { cause: error });
  if (error instanceof errors.DrainingConnectionError || nc.isDraining()) return new NatsConnectionClosedError(subject, 'draining', { cause: error });
  return new NatsConnectFailedError(subject, describe(error), { cause: error });
}

/**
 * Connects to the actors a {@link serveNats} exports on `subject`: a NATS request picks one
 * exporter of the queue group, which answers with its own inbox, and the {@link NatsTransport}
 * returned carries frames between the two inboxes from then on. Wrap it in a {@link TransportPeer}
 * (its heartbeats watch the exporter) and reach the actors with {@link connectActors}.
 *
 * @throws {NoRespondersError} at once when no exporter listens on the subject (`NO_RESPONDERS`).
 * @throws {TimeoutError} when none answers within `timeout` ms (`TIMEOUT`).
 * @throws {NatsConnectionClosedError} when the NATS connection is closed or draining.
 * @throws {NatsConnectFailedError} when the answer is not an exporter's.
 * @throws {AbortedError} when `signal` fires first.
 * @example
 * ```ts
 * const nc = await connect({ servers: '127.0.0.1:4222' });
 * const transport = await connectNats(nc, { subject: 'la.models.connect', timeout: 2_000 });
 * await using peer = new TransportPeer(transport);
 * const router = new MessageRouter();
 * await connectActors(router, peer);
 * console.log(await router.ask('model/tiny', 'info', null));
 * ```
 */
export async function connectNats(nc: NatsConnection, options: ConnectNatsOptions): Promise<NatsTransport> {
  const { subject, signal } = options;
  const timeout = options.timeout ?? 5_000;
  if (!subject) throw new InvalidArgumentError(`connectNats needs a subject, got ${JSON.stringify(subject)}`);
  if (!(timeout > 0)) throw new InvalidArgumentError(`connectNats: timeout must be positive, got ${timeout}`);
  if (nc.isClosed()) throw new NatsConnectionClosedError(subject, 'closed');
  if (nc.isDraining()) throw new NatsConnectionClosedError(subject, 'draining');
  const inbox = createInbox();
  let request: Promise<Msg>;
  try {
    request = nc.request(subject, encodeFrame({ inbox }), { timeout });
  } catch (error) {
    throw connectError(error, subject, timeout, nc);
  }
  let answer: Msg;
  try {
    answer = await (signal ? untilAborted(request, signal, `connect to NATS subject ${subject}`) : request);
  } catch (error) {
    if (signal?.aborted) void request.then((late) => closeLate(nc, late), () => {});
    throw connectError(error, subject, timeout, nc);
  }
  const peer = inboxOf(answer.string());
  if (peer === undefined) throw new NatsConnectFailedError(subject, `its answer names no inbox: ${answer.string().slice(0, 200)}`);
  return new NatsTransport(nc, {
    inbox,
    peer,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    closeOnDisconnect: options.closeOnDisconnect ?? true,
  });
}

/** An exporter answered a connect given up: tell it to close the connection it opened. */
function closeLate(nc: NatsConnection, answer: Msg): void {
  const peer = inboxOf(answer.string());
  if (peer !== undefined && !nc.isClosed()) nc.publish(peer, CLOSE_MESSAGE);
}
