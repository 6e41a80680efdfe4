import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../../Clock.js';
import { InvalidArgumentError } from '../../errors.js';
import { FrameBatcher } from '../FrameBatcher.js';
import { type TransportFrame, TransportFrameType } from '../frames.js';
import { Heartbeat } from '../Heartbeat.js';
import type { TransportCloseReason, TransportSendOptions } from '../Transport.js';
import { TransportBase } from '../TransportBase.js';
import { CLOSE_MESSAGE, decodeMessage, jsonBatchCodec } from './natsWire.js';

/** Options of the {@link NatsTransport} constructor. */
export interface NatsTransportOptions {
  /** The subject this end listens on (its inbox, e.g. `createInbox()` from `@nats-io/nats-core`). Required. */
  inbox: string;
  /** The subject the other end listens on. Required. */
  peer: string;
  /** pino logger. Defaults to the kernel's default logger. */
  logger?: Logger;
  /** Time source of the idle timeout. Defaults to the system clock. */
  clock?: Clock;
  /**
   * Close when nothing at all has come from the other end for this long, in ms: how an exporter
   * notices a caller that vanished (a caller's `TransportPeer` pings every `heartbeatMs`, so keep it
   * well above that). Counted from the construction. Defaults to `Infinity` (never).
   */
  idleTimeoutMs?: number;
  /**
   * Close when the NATS connection loses its server, even though it reconnects by itself: frames
   * published in the gap may be lost, and a stream waiting for a lost credit would hang. Defaults
   * to `true`.
   */
  closeOnDisconnect?: boolean;
  /**
   * The shortest time between two publishes, in ms: a frame after a quiet spell goes at the end of
   * the current event-loop turn (with every frame sent in that turn, as one JSON array), stream
   * chunks that follow sooner go together once the interval has passed (any other frame, such as a
   * credit or an ask, goes at the end of its turn, with them). One message at a time is not delayed; a
   * fast stream's chunks cost NATS and the other end one message per interval, not one per chunk.
   * `0`: one message per event-loop turn. Defaults to `1`.
   */
  coalesceMs?: number;
}

const CLOSED_HERE: TransportCloseReason = { message: 'the transport was closed' };
const CLOSED_THERE: TransportCloseReason = { message: 'the other end closed the transport' };

/**
 * A {@link Transport} over NATS between two inboxes: frames are published as JSON to the other
 * end's subject (the frames of a burst together, see `coalesceMs`), and what arrives on this end's
 * subject is delivered in order. Closing it tells the
 * other end (a close message); it also closes, with a reason, when the other end closes, when its
 * NATS connection closes or loses its server, and after `idleTimeoutMs` of silence. Usually made
 * by {@link connectNats} (the caller's end) and {@link serveNats} (the exporter's), which agree on
 * the inboxes over a request to a service subject; the NATS connection stays the caller's.
 *
 * JSON is stricter than a structured clone: a payload holding a function, a class instance or a
 * Map throws at the sender; `undefined` in an array arrives as `null`, and `NaN` as `null`.
 *
 * @example
 * ```ts
 * const nc = await connect({ servers: '127.0.0.1:4222' });
 * const [a, b] = [createInbox(), createInbox()];
 * const exporterSide = new NatsTransport(nc, { inbox: a, peer: b });
 * const callerSide = new NatsTransport(nc, { inbox: b, peer: a });
 * exportActors(hostRouter, exporterSide);
 * await using peer = new TransportPeer(callerSide);
 * console.log(await peer.actors());
 * ```
 */
export class NatsTransport extends TransportBase {
  /** The subject this end listens on. */
  readonly inbox: string;
  /** The subject the other end listens on. */
  readonly peer: string;
  private readonly subscription: Subscription;
  private readonly idle: Heartbeat;
  private readonly stopWatching: () => void;
  private readonly batcher: FrameBatcher<string, string>;
  private readonly maxPayload: number;

  /** @throws {InvalidArgumentError} for an empty subject, a bad idle timeout or a closed connection. */
  constructor(
    readonly nc: NatsConnection,
    options: NatsTransportOptions,
  ) {
    super(options.logger);
    const { inbox, peer } = options;
    if (!inbox || !peer) throw new InvalidArgumentError(`NatsTransport needs two subjects, got inbox ${JSON.stringify(inbox)} and peer ${JSON.stringify(peer)}`);
    const idleMs = options.idleTimeoutMs ?? Number.POSITIVE_INFINITY;
    if (!(idleMs > 0)) throw new InvalidArgumentError(`idleTimeoutMs must be positive, got ${idleMs}`);
    if (nc.isClosed()) throw new InvalidArgumentError(`NatsTransport needs an open NATS connection (inbox ${inbox} is on a closed one)`);
    this.inbox = inbox;
    this.peer = peer;
    const clock = options.clock ?? systemClock;
    this.idle = new Heartbeat(clock, idleMs / 4, idleMs, () => {}, () => this.lost({ message: `nothing came from the other end for ${idleMs} ms` }));
    this.idle.heard();
    // What the server accepts in one message (1 MiB unless configured): a batch of several frames
    // stays within it even if every character took 3 bytes; a lone frame is checked as it is sent.
    this.maxPayload = nc.info?.max_payload ?? 1_048_576;
    this.batcher = new FrameBatcher((batch) => this.publish(batch), jsonBatchCodec, {
      maxBatchBytes: Math.max(1, Math.floor(this.maxPayload / 3)),
      ...(options.coalesceMs === undefined ? {} : { coalesceMs: options.coalesceMs }),
    });
    this.subscription = nc.subscribe(inbox, { callback: (error, msg) => this.receive(error, msg) });
    this.stopWatching = this.watch(options.closeOnDisconnect ?? true);
  }

  /**
   * Publishes the frame as JSON to the other end; dropped once closed.
   *
   * @throws {TypeError} when the frame holds what JSON cannot carry (a function, a class instance, a BigInt).
   * @throws when NATS refuses it on an open connection (a frame over the server's `max_payload`).
   */
  /**
   * Queues a frame for the next publish (see `coalesceMs`).
   *
   * @throws {TypeError} for what JSON cannot carry (see {@link encodeFrame}) and for a frame over the server's `max_payload`.
   */
  send(frame: TransportFrame, options?: TransportSendOptions): void {
    if (this.closed) return;
    this.batcher.push(frame, options?.flush === true || frame.type !== TransportFrameType.Chunk, this.checkSize);
  }

  /** A lone frame over the server's limit throws to its sender; the byte count only when it could be. */
  private readonly checkSize = (text: string): void => {
    if (text.length * 3 <= this.maxPayload) return;
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxPayload) throw new TypeError(`a frame of ${bytes} bytes is over the NATS server's max_payload of ${this.maxPayload} bytes`);
  };

  /** Publishes what is batched, tells the other end and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) this.batcher.flush();
    if (!this.markClosed(CLOSED_HERE)) return;
    try {
      if (!this.nc.isClosed()) this.nc.publish(this.peer, CLOSE_MESSAGE);
    } catch (error) {
      this.logger.debug({ err: error }, 'nats transport: the close message was not sent');
    }
    this.cleanup();
  }

  private receive(error: Error | null, msg: Msg): void {
    if (this.closed) return;
    if (error) {
      this.lost({ message: `its NATS subscription to ${this.inbox} failed: ${error.message}` });
      return;
    }
    this.idle.heard();
    const decoded = decodeMessage(msg.string());
    if (decoded.kind === 'close') this.lost(CLOSED_THERE);
    else if (decoded.kind === 'frame') {
      if (Array.isArray(decoded.value)) for (const frame of decoded.value) this.deliver(frame);
      else this.deliver(decoded.value);
    }
    else this.logger.warn({ inbox: this.inbox, text: decoded.text }, 'nats transport: dropped a message that is not JSON');
  }

  /** Closes on the connection's close (and, when asked, its disconnect); returns how to stop watching. */
  private watch(closeOnDisconnect: boolean): () => void {
    const statuses = this.nc.status();
    void (async () => {
      for await (const status of statuses) {
        if (this.closed) break;
        if (status.type === 'close') this.lost({ message: 'its NATS connection closed' });
        else if (status.type === 'disconnect' && closeOnDisconnect) {
          this.lost({ message: `its NATS connection lost the server ${status.server} (frames in flight may be lost)` });
        }
      }
    })().catch((error: unknown) => this.logger.debug({ err: error }, 'nats transport: the status watch ended'));
    return () => {
      if ('stop' in statuses && typeof statuses.stop === 'function') statuses.stop();
    };
  }

  private lost(reason: TransportCloseReason): void {
    if (this.markClosed(reason)) this.cleanup();
  }

  private publish(batch: string): void {
    if (this.closed) return;
    try {
      this.nc.publish(this.peer, batch);
    } catch (error) {
      // A batch goes after its frames were accepted: a failure now is the connection's, not a frame's.
      if (this.nc.isClosed()) this.lost({ message: 'its NATS connection closed' });
      else this.lost({ message: `a batch of frames could not be published to ${this.peer}: ${error instanceof Error ? error.message : String(error)}` });
    }
  }

  private cleanup(): void {
    this.batcher.stop();
    this.idle.stop();
    this.stopWatching();
    try {
      if (!this.nc.isClosed()) this.subscription.unsubscribe();
    } catch (error) {
      this.logger.debug({ err: error }, 'nats transport: unsubscribe failed');
    }
  }
}
