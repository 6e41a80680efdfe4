import type { BatchCodec } from '../FrameBatcher.js';

/**
 * @internal What crosses NATS between the two ends of a {@link NatsTransport}, and the connect
 * handshake: JSON text. The frames of one batch are sent as their JSON array, a lone frame as itself; the close as `{"$close":true}`; the connect
 * request and its answer name the inboxes. JSON is stricter than a structured clone about what it
 * keeps, so {@link encodeFrame} refuses what it would silently lose (a function, a symbol, a class
 * instance, a Map) rather than let it vanish on the way.
 */

/** The message that tells the other end this one closed. */
export const CLOSE_MESSAGE = '{"$close":true}';

/** A caller's connect request: where the exporter is to send its frames. */
export interface ConnectRequest {
  readonly inbox: string;
}

/** The exporter's answer to a connect: where the caller is to send its frames. */
export interface ConnectAnswer {
  readonly inbox: string;
}

function refuse(what: string, key: string): never {
  throw new TypeError(`${what}${key === '' ? '' : ` (at ${JSON.stringify(key)})`} cannot cross a NATS transport as JSON`);
}

function plainOnly(key: string, value: unknown): unknown {
  if (typeof value === 'function') refuse('a function', key);
  if (typeof value === 'symbol') refuse('a symbol', key);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) refuse(`a ${(value as { constructor?: { name?: string } }).constructor?.name ?? 'class'} instance`, key);
  }
  return value;
}

/**
 * A frame (or handshake message) as JSON text.
 *
 * @throws {TypeError} naming what cannot be sent: a function, a symbol, a BigInt, a class instance.
 */
export function encodeFrame(value: unknown): string {
  return JSON.stringify(value, plainOnly);
}

/**
 * Frames as JSON text, a batch of several their JSON array (a frame is an object, never an array,
 * so the receiver tells them apart) and a batch of one the frame itself, for {@link FrameBatcher}:
 * each frame is encoded as it is sent, so {@link encodeFrame}'s refusal reaches the sender.
 */
export const jsonBatchCodec: BatchCodec<string, string> = {
  encode: (frame) => encodeFrame(frame),
  size: (item) => item.length,
  join: (items) => (items.length === 1 ? (items[0] as string) : `[${items.join(',')}]`),
};

/** What one message on an inbox is: a frame to deliver (checked by the transport), the close, or garbage. */
export type Decoded = { readonly kind: 'frame'; readonly value: unknown } | { readonly kind: 'close' } | { readonly kind: 'bad'; readonly text: string };

export function decodeMessage(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'bad', text: text.slice(0, 200) };
  }
  if (typeof value === 'object' && value !== null && (value as { $close?: unknown }).$close === true) return { kind: 'close' };
  return { kind: 'frame', value };
}

/** The inbox named in a connect request or answer, or `undefined` when there is none. */
export function inboxOf(text: string): string | undefined {
  const decoded = decodeMessage(text);
  if (decoded.kind !== 'frame') return undefined;
  const inbox = (decoded.value as { inbox?: unknown } | null)?.inbox;
  return typeof inbox === 'string' && inbox !== '' ? inbox : undefined;
}
