import { ActorError, ErrorKind } from '../../errors.js';
import { NatsErrorCode } from './NatsErrorCode.js';

/**
 * A connect failed for another reason than no responders, a timeout or a closed connection: the
 * exporter's answer was not one (another service on the subject), or NATS refused the request
 * (a permission violation). `unavailable`: 503.
 */
export class NatsConnectFailedError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  /**
   * @param subject the service subject of the connect.
   * @param reason what went wrong.
   */
  constructor(
    readonly subject: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(NatsErrorCode.ConnectFailed, `cannot connect to NATS subject ${subject}: ${reason}`, options);
  }
}
