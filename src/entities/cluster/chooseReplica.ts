import { ModelLifecycleState } from '../../actors/ModelActor/types.js';

/** What the routing policy knows of one replica of a model (a worker serving it). */
export interface ReplicaView {
  /** The worker's id. */
  readonly worker: string;
  /** Requests this front end has in flight on it now. */
  readonly inFlight: number;
  /** The model's load on that worker as its last stats said, if any came yet. */
  readonly stats?: ReplicaLoad;
}

/** A model's load on one worker, as the worker's `$SRV.STATS` report it. */
export interface ReplicaLoad {
  /** Generation slots of the model there. */
  readonly slots: number;
  /** Slots generating when the stats were taken. */
  readonly busySlots: number;
  /** Requests waiting for a slot when the stats were taken. */
  readonly queueDepth: number;
  /** This front end's own in-flight count on that replica when those stats arrived. */
  readonly inFlightAtStats?: number;
  /**
   * The model's lifecycle state there (`ready`, `loading` while its host restarts, `failed` once
   * given up, `unresponsive` when its status did not come). Absent: taken for ready.
   */
  readonly state?: string;
}

/** Why {@link chooseReplica} picked a replica. */
export const RouteReason = {
  /** The session's last replica, which still holds its KV cache. */
  Affinity: 'affinity',
  /** The least-loaded replica with a free slot. */
  FreeSlot: 'free-slot',
  /** None had a free slot: the least-loaded one (it queues there). */
  LeastLoaded: 'least-loaded',
  /** Any replica, uniformly (`routing: 'random'`, the baseline session-aware routing is measured against). */
  Random: 'random',
} as const;
export type RouteReason = (typeof RouteReason)[keyof typeof RouteReason];

/** What {@link chooseReplica} decided. */
export interface RouteChoice {
  readonly worker: string;
  readonly reason: RouteReason;
}

/**
 * A replica's estimated load: what its last stats said others had on it (busy and queued minus
 * this front end's own in-flight then), plus this front end's in-flight now. Without stats, only
 * the front end's own in-flight.
 */
export function replicaLoad(replica: ReplicaView): number {
  const { stats, inFlight } = replica;
  if (!stats) return inFlight;
  const others = Math.max(0, stats.busySlots + stats.queueDepth - (stats.inFlightAtStats ?? 0));
  return others + inFlight;
}

/** States a replica cannot serve in now: given up, not answering, or gone. */
const DOWN: ReadonlySet<string> = new Set([ModelLifecycleState.Failed, ModelLifecycleState.Disposed, ModelLifecycleState.Unloaded, 'unresponsive']);

/**
 * The replicas worth routing to: the ready ones (or with no stats yet); else those loading (a host
 * restarting after a crash); else all of them (each will answer with its own typed error).
 */
function servable(replicas: readonly ReplicaView[]): readonly ReplicaView[] {
  const state = (replica: ReplicaView): string => replica.stats?.state ?? ModelLifecycleState.Ready;
  const ready = replicas.filter((replica) => state(replica) === ModelLifecycleState.Ready);
  if (ready.length > 0) return ready;
  const coming = replicas.filter((replica) => !DOWN.has(state(replica)));
  return coming.length > 0 ? coming : replicas;
}

/** Whether the replica has a slot free by {@link replicaLoad} (unknown slots: assume one while idle). */
function hasFreeSlot(replica: ReplicaView): boolean {
  return replicaLoad(replica) < (replica.stats?.slots ?? 1);
}

/**
 * The routing policy of a cluster model, pure: among the replicas whose model is ready (else those
 * loading, else all), a request of a session goes to the replica that served that session last
 * (`lastWorker`) while it is among them (its KV cache holds the session's prefix); otherwise to the
 * least-loaded replica with a free slot; otherwise to the least-loaded one. Ties go to the fewest
 * own in-flight, then to the worker id (stable). `undefined` when there is no replica.
 *
 * @example
 * ```ts
 * const choice = chooseReplica([{ worker: 'a', inFlight: 2, stats: { slots: 2, busySlots: 2, queueDepth: 0 } }, { worker: 'b', inFlight: 0 }]);
 * // { worker: 'b', reason: 'free-slot' }
 * ```
 */
export function chooseReplica(all: readonly ReplicaView[], lastWorker?: string): RouteChoice | undefined {
  const replicas = servable(all);
  if (replicas.length === 0) return undefined;
  if (lastWorker !== undefined && replicas.some((replica) => replica.worker === lastWorker)) return { worker: lastWorker, reason: RouteReason.Affinity };
  const ranked = [...replicas].sort(
    (a, b) => replicaLoad(a) - replicaLoad(b) || a.inFlight - b.inFlight || (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0),
  );
  const free = ranked.find(hasFreeSlot);
  if (free) return { worker: free.worker, reason: RouteReason.FreeSlot };
  const [least] = ranked;
  return least ? { worker: least.worker, reason: RouteReason.LeastLoaded } : undefined;
}
