import { ActorError, ErrorKind } from '../../messaging/errors.js';
import { ClusterErrorCode } from './ClusterErrorCode.js';

/**
 * A cluster model has no replica to serve a request: no worker serving it is connected (none
 * started yet, every one lost, or nats-server unreachable) and none came within the wait
 * (`unavailable`: 503, retry once a worker is up).
 */
export class NoReplicaError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  /**
   * @param model the model's id.
   * @param waitedMs how long the request waited for a replica.
   * @param workers the workers connected now (none of them serves the model).
   */
  constructor(
    readonly model: string,
    readonly waitedMs: number,
    readonly workers: readonly string[],
  ) {
    super(
      ClusterErrorCode.NoReplica,
      `model ${model} has no replica: no worker serving it answered within ${waitedMs} ms (${workers.length} worker${workers.length === 1 ? '' : 's'} connected${workers.length > 0 ? `: ${workers.join(', ')}` : ''})`,
    );
  }
}
