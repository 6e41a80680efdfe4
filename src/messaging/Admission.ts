import type { ActorCell } from './ActorCell.js';
import { type Address, parseAddress } from './address.js';
import { DeadLetterReason } from './DeadLetter.js';
import type { DeadLetterChannel } from './DeadLetterChannel.js';
import {
  type ActorError,
  ActorNotFoundError,
  InvalidArgumentError,
  MailboxFullError,
  StreamNotSupportedError,
  UnsupportedMessageError,
} from './errors.js';
import type { InspectionHook } from './InspectionHook.js';
import { InspectionEventType } from './inspection.js';
import { createMessage, type Message, MessagePattern } from './Message.js';
import { messageSpec } from './protocol.js';
import { ActorKindMismatchError } from './protocolErrors.js';
import type { RequestJob } from './RequestJob.js';
import type { SendOptions } from './types.js';

/**
 * @internal The send path up to the mailbox: makes the envelope, finds the actor, asks its protocol
 * and puts the job in its mailbox, and sends a dead letter for each way that fails (no actor at the
 * address, a message its protocol refuses, a full mailbox). Every `tell`, `ask` and `stream` passes
 * here, so a refusal looks the same whichever way a message was sent.
 */
export class Admission {
  constructor(
    private readonly cells: ReadonlyMap<string, ActorCell>,
    /** True once the router is disposing: an actor missing then is a stopped one, not an unknown one. */
    private readonly disposing: () => boolean,
    private readonly hook: InspectionHook,
    private readonly deadLetters: DeadLetterChannel,
    private readonly now: () => number,
  ) {}

  /**
   * Makes the envelope and finds the cell; an unknown actor becomes a dead letter.
   *
   * @throws {InvalidAddressError} for a malformed address; {@link InvalidArgumentError} for an empty type.
   */
  prepare<P>(
    to: Address | string,
    type: string,
    payload: P,
    pattern: MessagePattern,
    options: SendOptions,
  ): { message: Message<P>; cell: ActorCell | undefined } {
    const actorId = parseAddress(to);
    if (typeof type !== 'string' || type.length === 0) {
      throw new InvalidArgumentError(`message type must be a non-empty string, got ${JSON.stringify(type)}`);
    }
    const cell = this.cells.get(actorId);
    const message = createMessage({
      type,
      payload,
      pattern,
      to: cell?.address ?? (`@(${actorId})` as Address),
      timestamp: this.now(),
      from: options.from,
      scope: options.scope,
    });
    if (this.hook.enabled) this.hook.inspect({ type: InspectionEventType.Message, message, timestamp: message.timestamp });
    if (!cell) {
      this.deadLetters.publish(
        message,
        this.disposing() ? DeadLetterReason.ActorStopped : DeadLetterReason.ActorNotFound,
        new ActorNotFoundError(actorId),
      );
    }
    return { message, cell };
  }

  /** The protocol's refusal of `message`, if any, sent to dead letters (reason `refused`). */
  refuse(cell: ActorCell, message: Message, options: SendOptions): ActorError | undefined {
    const refusal = protocolRefusal(cell, message, options);
    if (refusal) this.deadLetters.publish(message, DeadLetterReason.Refused, refusal);
    return refusal;
  }

  /**
   * Puts a job in the mailbox; a full mailbox is a dead letter and a typed rejection.
   *
   * @throws {MailboxFullError} when the mailbox is full.
   */
  admit(cell: ActorCell, job: RequestJob): void {
    try {
      cell.enqueue(job);
    } catch (error) {
      if (error instanceof MailboxFullError) this.deadLetters.publish(job.message, DeadLetterReason.MailboxFull, error);
      throw error;
    }
  }
}

/**
 * Why the actor's protocol refuses `message` at send time, if it does: the wrong kind of actor for a
 * ref (`options.expectKind`), a type it does not declare, or a stream of a type that does not
 * stream. An actor without a protocol takes any type, and streams if it has `stream()`.
 */
function protocolRefusal(cell: ActorCell, message: Message, options: SendOptions): ActorError | undefined {
  const protocol = cell.protocol;
  if (options.expectKind !== undefined && protocol?.kind !== options.expectKind) {
    return new ActorKindMismatchError(cell.id, options.expectKind, protocol?.kind);
  }
  const streaming = message.pattern === MessagePattern.Stream;
  if (!protocol) return streaming && !cell.canStream ? new StreamNotSupportedError(cell.id) : undefined;
  const spec = messageSpec(protocol, message.type);
  if (!spec) return new UnsupportedMessageError(cell.id, message.type);
  if (streaming && (spec.stream !== true || !cell.canStream)) return new StreamNotSupportedError(cell.id);
  return undefined;
}
