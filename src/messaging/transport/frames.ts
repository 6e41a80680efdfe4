import type { Protocol } from '../protocol.js';
import type { TokenStreamEvent } from '../TokenStreamEvent.js';
import type { WireError } from './wireErrors.js';

/**
 * The kinds of frame a {@link Transport} carries, declared once: both sides switch on these. A
 * caller ({@link TransportPeer}) sends `ask`, `tell`, `stream`, `credit`, `cancel` and `ping`; an
 * exporter ({@link exportActors}) answers with `hello`, `reply`, `fail`, `chunk` and `pong`. One
 * transport may carry both directions at once (each side exporting to the other).
 */
export const TransportFrameType = {
  /** From an exporter: the actors it serves. From a caller (no `actors`): asks for one. */
  Hello: 'hello',
  Ask: 'ask',
  /** The answer to an `ask`. */
  Reply: 'reply',
  /** An `ask` or `stream` failed before any event: the error, class and code kept. */
  Fail: 'fail',
  Tell: 'tell',
  /** Opens a stream with an initial credit: how many chunks the exporter may send before more is granted. */
  Stream: 'stream',
  /** One event of a stream; the terminal `done` or `error` is sent whatever the credit. */
  Chunk: 'chunk',
  /** The caller's consumer took `n` more events: the exporter may send `n` more. */
  Credit: 'credit',
  /** The caller gave up an `ask` or `stream` (abort, timeout, cancel): its work is aborted. */
  Cancel: 'cancel',
  Ping: 'ping',
  Pong: 'pong',
} as const;
export type TransportFrameType = (typeof TransportFrameType)[keyof typeof TransportFrameType];

/** One actor an exporter serves, as its `hello` lists it: the id and protocol the caller sees. */
export interface ExportedActor {
  readonly id: string;
  /** Its protocol's kind and message specs (plain data); `null` for an actor without one. */
  readonly protocol: Pick<Protocol, 'kind' | 'messages'> | null;
}

/** What every message-carrying frame names: the target, the message type and its payload. */
interface SendFrameFields {
  /** The target's actor id in the exporting router. */
  readonly to: string;
  readonly messageType: string;
  /** Plain data (structuredClone-able). */
  readonly payload: unknown;
  readonly scope?: string;
  /** The sender's address on the calling side, for the record. */
  readonly from?: string;
}

export interface HelloFrame {
  readonly type: typeof TransportFrameType.Hello;
  /** Absent on a caller's request for a hello. */
  readonly actors?: readonly ExportedActor[];
}

export interface AskFrame extends SendFrameFields {
  readonly type: typeof TransportFrameType.Ask;
  /** Correlates the `reply` / `fail` / `cancel`; unique per caller. */
  readonly id: number;
  /** A timeout for the exporting router to apply; absent: none (the calling side keeps its own). */
  readonly timeout?: number;
}

export interface ReplyFrame {
  readonly type: typeof TransportFrameType.Reply;
  readonly id: number;
  readonly value: unknown;
}

export interface FailFrame {
  readonly type: typeof TransportFrameType.Fail;
  readonly id: number;
  readonly error: WireError;
}

export interface TellFrame extends SendFrameFields {
  readonly type: typeof TransportFrameType.Tell;
}

export interface StreamFrame extends SendFrameFields {
  readonly type: typeof TransportFrameType.Stream;
  readonly id: number;
  /** Chunks the exporter may send before it is granted more (the caller's window). */
  readonly credit: number;
  /** A timeout for the exporting router to apply; absent: none. */
  readonly timeout?: number;
}

export interface ChunkFrame {
  readonly type: typeof TransportFrameType.Chunk;
  readonly id: number;
  readonly event: TokenStreamEvent;
  /** On a terminal `error` event: the error itself, so that the caller rebuilds its class. */
  readonly error?: WireError;
}

export interface CreditFrame {
  readonly type: typeof TransportFrameType.Credit;
  readonly id: number;
  readonly n: number;
}

export interface CancelFrame {
  readonly type: typeof TransportFrameType.Cancel;
  readonly id: number;
}

export interface PingFrame {
  readonly type: typeof TransportFrameType.Ping;
  readonly seq: number;
}

export interface PongFrame {
  readonly type: typeof TransportFrameType.Pong;
  readonly seq: number;
}

/** Everything a {@link Transport} carries: plain, structuredClone-able data discriminated by `type`. */
export type TransportFrame =
  | HelloFrame
  | AskFrame
  | ReplyFrame
  | FailFrame
  | TellFrame
  | StreamFrame
  | ChunkFrame
  | CreditFrame
  | CancelFrame
  | PingFrame
  | PongFrame;

const FRAME_TYPES: ReadonlySet<unknown> = new Set(Object.values(TransportFrameType));

/**
 * Whether `value` looks like a frame (an object whose `type` is one of {@link TransportFrameType}'s):
 * what a transport checks before handing a message from its channel to its listeners.
 *
 * @example
 * ```ts
 * socket.on('message', (data) => {
 *   const frame: unknown = JSON.parse(String(data));
 *   if (isTransportFrame(frame)) deliver(frame);
 * });
 * ```
 */
export function isTransportFrame(value: unknown): value is TransportFrame {
  return typeof value === 'object' && value !== null && FRAME_TYPES.has((value as { type?: unknown }).type);
}
