import { ActorError, ErrorKind } from '../messaging/errors.js';

/**
 * The generic `/actors/...` routes only send the message types an actor's protocol marks
 * `exposed`; anything else (an undeclared type, an actor without a protocol) is refused, 403.
 */
export class MessageNotExposedError extends ActorError {
  override readonly kind = ErrorKind.Forbidden;

  constructor(
    readonly actorId: string,
    readonly messageType: string,
  ) {
    super('MESSAGE_NOT_EXPOSED', `@(${actorId}) does not expose ${JSON.stringify(messageType)} over HTTP`);
  }
}
