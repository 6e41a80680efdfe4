import type { ActorError } from './errors.js';
import type { Message } from './Message.js';

/** Why a message could not be delivered. */
export const DeadLetterReason = {
  /** No actor is registered at the target address. */
  ActorNotFound: 'actor-not-found',
  /** The actor stopped before it handled the message. */
  ActorStopped: 'actor-stopped',
  /** The actor's mailbox was full. */
  MailboxFull: 'mailbox-full',
  /** The actor's protocol does not take the message (unknown type, or the wrong kind of actor). */
  Refused: 'refused',
  /** A reply arrived after its caller had given up (timeout or abort). */
  LateReply: 'late-reply',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

/** A message the router could not deliver, published on the dead-letter channel. */
export interface DeadLetter {
  readonly message: Message;
  readonly reason: DeadLetterReason;
  readonly error?: ActorError;
  /** For a late reply: the value the actor returned. */
  readonly reply?: unknown;
  readonly timestamp: number;
}
