import { ActorError, ErrorKind } from '../errors.js';
import type { TransportCloseReason } from './Transport.js';

/** Codes of the transport layer's errors. */
export const TransportErrorCode = {
  ActorHostLost: 'ACTOR_HOST_LOST',
} as const;

/**
 * The actor's host went away while a call to it was in flight, or before it was made: its process
 * exited or was killed, its transport closed, or it stopped answering heartbeats. Every ask and
 * stream to it fails with this at once (`unavailable`: 503, retry once it is back), and a
 * supervisor that links the host (e.g. `decide: (e) => e instanceof ActorHostLostError ? 'restart' : ...`)
 * restarts it.
 */
export class ActorHostLostError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;
  /** The host process's exit code, when it exited on its own. */
  readonly exitCode: number | null;
  /** The signal that ended the host process, if one did. */
  readonly signal: string | null;

  /**
   * @param actorId the actor the failed call was for; `undefined` for the host as a whole.
   * @param reason why the transport to the host closed.
   */
  constructor(
    readonly actorId: string | undefined,
    reason: TransportCloseReason,
  ) {
    super(TransportErrorCode.ActorHostLost, `actor ${actorId ?? 'host'} lost: ${reason.message}`);
    this.exitCode = reason.exitCode ?? null;
    this.signal = reason.signal ?? null;
  }
}
