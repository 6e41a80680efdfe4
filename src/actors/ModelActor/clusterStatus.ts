/** A cluster model's replicas (workers serving it), on its `status` at a front end. */
export interface ModelClusterStatus {
  replicas: ModelReplicaStatus[];
}

/** One replica of a cluster model: a worker serving it. */
export interface ModelReplicaStatus {
  /** The worker's id. */
  worker: string;
  /** Requests this front end has in flight on it. */
  inFlight: number;
  /** Its slots, busy slots and queue as it answered now (or its last stats when it did not answer). */
  slots: number;
  busySlots: number;
  queueDepth: number;
  /** Generations it finished since its load (every front end's). */
  completed: number;
  /** Its model's lifecycle state (`unresponsive` when it did not answer). */
  state: string;
}
