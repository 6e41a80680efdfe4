import { ActorError, ErrorKind } from '../../errors.js';
import { NatsErrorCode } from './NatsErrorCode.js';

/**
 * A connect found nobody serving its subject: no `serveNats` listens there (not started yet, or
 * every replica gone). NATS says so at once, so this fails at once, not after the timeout
 * (`unavailable`: 503, retry once an exporter is up).
 */
export class NoRespondersError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  /** @param subject the service subject nobody listens on. */
  constructor(readonly subject: string) {
    super(NatsErrorCode.NoResponders, `no exporter listens on NATS subject ${subject} (no responders)`);
  }
}
