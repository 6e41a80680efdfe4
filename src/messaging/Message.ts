import { nanoid } from 'nanoid';
import type { Address } from './address.js';

/** How a message was sent, which decides what the router does with the handler's outcome. */
export const MessagePattern = {
  /** Fire and forget: the handler's return value is dropped. */
  Tell: 'tell',
  /** Request/response: the handler's return value is the reply. */
  Ask: 'ask',
  /** Streaming request: handled by the actor's `stream()`. */
  Stream: 'stream',
  /** A reply to an `ask`, carrying the request's id as `correlationId`. */
  Reply: 'reply',
} as const;
export type MessagePattern = (typeof MessagePattern)[keyof typeof MessagePattern];

/**
 * The envelope of everything the router delivers. Message `type`s are the actor's own vocabulary;
 * define them as constants next to the actor, not as string literals at call sites.
 */
export interface Message<TPayload = unknown, TType extends string = string> {
  /** Unique id (nanoid). */
  readonly id: string;
  readonly type: TType;
  readonly payload: TPayload;
  readonly pattern: MessagePattern;
  /** The sender, when it is an actor (filled in for asks made through an actor's context). */
  readonly from?: Address;
  readonly to: Address;
  /** Milliseconds since the epoch, from the router's clock. */
  readonly timestamp: number;
  /** On a reply: the id of the request it answers. */
  readonly correlationId?: string;
  /** A caller-chosen tag (a chat window, a tenant) that observers can filter on. */
  readonly scope?: string;
}

/** @internal Fields of a new envelope; the id is generated. */
export interface MessageInit<TPayload, TType extends string> {
  type: TType;
  payload: TPayload;
  pattern: MessagePattern;
  to: Address;
  timestamp: number;
  from?: Address | undefined;
  correlationId?: string | undefined;
  scope?: string | undefined;
}

/**
 * Makes a message envelope with a fresh id.
 *
 * @example
 * ```ts
 * const message = createMessage({ type: 'ping', payload: {}, pattern: 'tell', to: address('a'), timestamp: Date.now() });
 * ```
 */
export function createMessage<TPayload, TType extends string>(
  init: MessageInit<TPayload, TType>,
): Message<TPayload, TType> {
  const message: { -readonly [K in keyof Message<TPayload, TType>]: Message<TPayload, TType>[K] } = {
    id: nanoid(),
    type: init.type,
    payload: init.payload,
    pattern: init.pattern,
    to: init.to,
    timestamp: init.timestamp,
  };
  // Optional fields are left off rather than set to undefined, so envelopes serialize cleanly.
  if (init.from !== undefined) message.from = init.from;
  if (init.correlationId !== undefined) message.correlationId = init.correlationId;
  if (init.scope !== undefined) message.scope = init.scope;
  return message;
}
