import type { Logger } from 'pino';
import type { Address } from '../address.js';
import type { Clock } from '../Clock.js';
import { describe, InvalidArgumentError } from '../errors.js';

/** Options of the {@link TransportPeer} constructor. */
export interface TransportPeerOptions {
  /** pino logger. Defaults to the kernel's default logger. */
  logger?: Logger;
  /** Time source of heartbeats and timeouts (tests pass a fake one). Defaults to the system clock. */
  clock?: Clock;
  /** How often to ping the other side, in ms; `Infinity` turns heartbeats off. Defaults to `1_000`. */
  heartbeatMs?: number;
  /**
   * How long the other side may stay silent (no pong, no frame at all) before it counts as lost, in
   * ms: every call in flight then fails with `ACTOR_HOST_LOST`. Counted from the first frame heard:
   * before it the other side is starting (a child loading its modules), and the caller's own start
   * timeout applies (e.g. `actors({ signal })`). Defaults to `5_000`.
   */
  heartbeatTimeoutMs?: number;
  /** Default credit window of a stream: chunks the exporter may send ahead of the consumer. Defaults to `64`. */
  highWaterMark?: number;
  /** Whether `dispose()` closes the transport too. Defaults to `true` (the peer owns its transport). */
  closeTransport?: boolean;
}

/** Options common to the peer's sends. */
export interface PeerSendOptions {
  /** The tag the remote message carries (see `SendOptions.scope`). */
  scope?: string;
  /** The sender's address, for the record on the remote side. */
  from?: Address;
}

/** Options of {@link TransportPeer.ask}. */
export interface PeerAskOptions extends PeerSendOptions {
  /**
   * Milliseconds before the ask fails with `TIMEOUT` (and the remote handler is cancelled). Defaults
   * to `Infinity`: a router in front of a {@link RemoteActor} keeps its own, and a lost host fails
   * the ask anyway.
   */
  timeout?: number;
  /** Aborts the ask: it rejects with `ABORTED` at once and the remote handler's signal fires. */
  signal?: AbortSignal;
}

/** Options of {@link TransportPeer.stream}. */
export interface PeerStreamOptions extends PeerSendOptions {
  /** Aborts the stream: it ends with an `ABORTED` error event at once and the remote producer's signal fires. */
  signal?: AbortSignal;
  /** Chunks the exporter may send before `onChunk` has taken them (the credit window). Defaults to the peer's `highWaterMark` (`64`). */
  highWaterMark?: number;
}

/** @internal The frame fields a send's options stand for; absent ones are left off (frames must serialize cleanly). */
export function sendFields(options: PeerSendOptions): { scope?: string; from?: string } {
  const fields: { scope?: string; from?: string } = {};
  if (options.scope !== undefined) fields.scope = options.scope;
  if (options.from !== undefined) fields.from = options.from;
  return fields;
}

/** @internal A payload that cannot cross the transport: the caller's mistake, named. */
export function notSerializable(what: string, error: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${what}: the payload cannot cross the transport (it must be plain, structuredClone-able data): ${describe(error)}`);
}
