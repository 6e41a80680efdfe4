import { ActorError, ErrorKind } from '../../errors.js';
import { NatsErrorCode } from './NatsErrorCode.js';

/** A connect was tried on a NATS connection that is closed or draining (`unavailable`: 503). */
export class NatsConnectionClosedError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  /**
   * @param subject the service subject of the connect.
   * @param state what the connection was doing, e.g. `closed` or `draining`.
   */
  constructor(
    readonly subject: string,
    readonly state: string,
    options?: { cause?: unknown },
  ) {
    super(NatsErrorCode.ConnectionClosed, `cannot connect to NATS subject ${subject}: the NATS connection is ${state}`, options);
  }
}
