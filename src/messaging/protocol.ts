import type { TokenUsage } from './TokenStreamEvent.js';

/**
 * Where a message runs in its actor (Akka's mailbox plus the reads an OTP `gen_server` answers from
 * its state): `exclusive` messages change the actor's state and run one at a time, in arrival order;
 * `concurrent` messages only read or control (status, info, cancel) and run beside them.
 */
export const Lane = {
  /** One at a time, in order: the actor's state needs no locking. The default. */
  Exclusive: 'exclusive',
  /** Starts at once (after the actor has started), beside whatever else runs. */
  Concurrent: 'concurrent',
} as const;
export type Lane = (typeof Lane)[keyof typeof Lane];

/** The `usage` and `data` a stream's `done` event carries, and the `data` of its `progress` events. */
export interface StreamShape {
  usage?: TokenUsage;
  /** The final result of a non-text job, on `done`. */
  data?: unknown;
  /** The figures of a `progress` event. */
  progress?: unknown;
}

/**
 * The type-level description of one message type: its payload, the reply of an `ask`, and (for
 * messages that stream) what its events carry. All of them are plain data: they cross process and
 * machine boundaries.
 */
export interface MessageShape {
  payload: unknown;
  reply?: unknown;
  stream?: StreamShape;
}

/**
 * A protocol's types: message type → {@link MessageShape}, written as an interface
 * (`interface CounterProtocol { add: { payload: { by: number }; reply: number } }`).
 */
export type ProtocolShape = object;

/** What the kernel and the server need to know about one message type at run time. */
export interface MessageSpec {
  /** Defaults to `exclusive`. */
  lane?: Lane;
  /** Whether `stream` / `streamAsk` are accepted for it. Defaults to `false`. */
  stream?: boolean;
  /** Whether the generic `/actors/:id/...` HTTP routes may send it. Defaults to `false`. */
  exposed?: boolean;
  /**
   * Fields of the payload that hold file paths, confined to the allowed directories wherever they
   * are nested: dotted, with `[]` for every element of an array (`adapters[].path`). Defaults to none.
   */
  paths?: readonly string[];
}

/**
 * An actor kind's protocol, declared once: its kind (the namespace of its addresses) and, for each
 * message type, a {@link MessageSpec}; the type parameter carries payloads, replies and stream
 * shapes, so that refs type every `ask` and `stream` from it.
 */
export interface Protocol<T extends ProtocolShape = ProtocolShape> {
  /** The actor kind (`model`, `session`, ...): ids of this kind's actors are `<kind>/<name>`. */
  readonly kind: string;
  readonly messages: { readonly [K in keyof T & string]: MessageSpec };
  /** @internal Type carrier only; never set. */
  readonly __shape?: T;
}

/** Message types of `T`. */
export type MessageType<T extends ProtocolShape> = keyof T & string;
/** Message types of `T` that answer an `ask`. */
export type AskType<T extends ProtocolShape> = { [K in keyof T]: T[K] extends { reply: unknown } ? K : never }[keyof T] & string;
/** Message types of `T` that stream. */
export type StreamType<T extends ProtocolShape> = { [K in keyof T]: T[K] extends { stream: StreamShape } ? K : never }[keyof T] &
  string;
export type PayloadOf<T extends ProtocolShape, K extends keyof T> = T[K] extends { payload: infer P } ? P : never;
export type ReplyOf<T extends ProtocolShape, K extends keyof T> = T[K] extends { reply: infer R } ? R : never;
export type StreamOf<T extends ProtocolShape, K extends keyof T> = T[K] extends { stream: infer S extends StreamShape } ? S : StreamShape;

/**
 * Declares a protocol. The kind must be a plain name (letters, digits, `-`), so that `<kind>/<name>`
 * is always a valid actor id.
 *
 * @example
 * ```ts
 * interface CounterProtocol {
 *   add: { payload: { by: number }; reply: number };
 *   get: { payload: null; reply: number };
 * }
 * const counterProtocol = defineProtocol<CounterProtocol>('counter', {
 *   add: {},
 *   get: { lane: Lane.Concurrent },
 * });
 * ```
 */
export function defineProtocol<T extends ProtocolShape>(
  kind: string,
  messages: { readonly [K in keyof T & string]: MessageSpec },
): Protocol<T> {
  if (!/^[a-z][a-z0-9-]*$/.test(kind)) throw new TypeError(`a protocol kind is lowercase letters, digits and -, got ${JSON.stringify(kind)}`);
  for (const [type, spec] of Object.entries(messages) as Array<[string, MessageSpec]>) {
    if (spec.lane !== undefined && spec.lane !== Lane.Exclusive && spec.lane !== Lane.Concurrent) {
      throw new TypeError(`message ${type} of ${kind}: lane must be exclusive or concurrent, got ${String(spec.lane)}`);
    }
  }
  return { kind, messages: Object.freeze({ ...messages }) };
}

/** The spec of `type` in `protocol`, or `undefined` when the protocol does not declare it. */
export function messageSpec(protocol: Protocol, type: string): MessageSpec | undefined {
  const messages: Readonly<Record<string, MessageSpec>> = protocol.messages;
  return Object.hasOwn(messages, type) ? messages[type] : undefined;
}
