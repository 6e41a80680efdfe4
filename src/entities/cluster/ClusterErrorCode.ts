/** Codes of the cluster's errors (a lost worker is the transport's `ACTOR_HOST_LOST`). Stable: never renamed once published. */
export const ClusterErrorCode = {
  /** A cluster model has no connected replica. */
  NoReplica: 'NO_REPLICA',
} as const;
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];
