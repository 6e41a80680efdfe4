import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import type { Message } from '../../messaging/Message.js';
import type { StreamCallback, TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import { RemoteActor } from '../../messaging/transport/RemoteActor.js';
import type { TransportPeer } from '../../messaging/transport/TransportPeer.js';
import type { ActorContext, ActorOptions } from '../../messaging/types.js';
import { AbortedError, ActorError } from '../../messaging/errors.js';
import { modelProtocol } from '../../actors/ModelActor/modelProtocol.js';
import { ModelLifecycleState, ModelMessage, type ModelReplicaStatus, type ModelStatus } from '../../actors/ModelActor/types.js';
import { ActorKind, kindAddress } from '../actorNames.js';
import { parseAddress } from '../../messaging/address.js';
import { chooseReplica, type RouteChoice, RouteReason } from './chooseReplica.js';
import { NoReplicaError } from './NoReplicaError.js';
import { SessionAffinity } from './SessionAffinity.js';
import type { KnownWorker, WorkerDirectory } from './WorkerDirectory.js';

/** Options of {@link ClusterModelActor}. */
export interface ClusterModelActorOptions {
  /** How long a request waits for a replica when none is connected (a worker starting, nats-server reconnecting), in ms. Defaults to `5_000`. */
  replicaWaitMs?: number;
  /** Sessions whose last replica is remembered. Defaults to `10_000`. */
  maxSessions?: number;
  /** Time source of the wait. Defaults to the system clock. */
  clock?: Clock;
  /**
   * How a replica is chosen: `'session-aware'` by {@link chooseReplica} (a session to its last
   * replica, else by load); `'random'` any replica, uniformly, whatever the session or the load: the
   * baseline that `bench/nats.ts` measures session-aware routing against, not for production.
   * Defaults to `'session-aware'`.
   */
  routing?: 'session-aware' | 'random';
  /** Uniform numbers in [0, 1) for `routing: 'random'`. Defaults to `Math.random`. */
  random?: () => number;
}

/** A replica chosen for one request, and the release of its place in the replica's in-flight count. */
interface Picked {
  readonly worker: KnownWorker;
  readonly release: () => void;
}

/** Messages that change a model's adapter set: sent to every replica, so that they stay alike. */
const ADAPTER_CHANGES: ReadonlySet<string> = new Set([ModelMessage.ApplyAdapter, ModelMessage.RemoveAdapter, ModelMessage.SetAdapterScale]);

/** The session a request continues, if it names one (a SessionActor's turns do). */
function sessionOf(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null || !('session' in payload)) return undefined;
  return typeof payload.session === 'string' ? payload.session : undefined;
}

/**
 * A model served by the workers of a NATS cluster, at a front end: the same address
 * (`model/<id>`) and protocol as a ModelActor, so sessions, the HTTP routes and the CLI do not
 * change. Each message is forwarded (a {@link RemoteActor} per worker) to one replica chosen by
 * {@link chooseReplica}: a session's request to the replica that served it last while that replica
 * is connected (its KV cache holds the session's prefix), otherwise the least-loaded replica with a
 * free slot, otherwise the least-loaded. Every request carries what any replica needs (a session's
 * turn sends its whole history), so a lost replica costs its requests in flight (`ACTOR_HOST_LOST`)
 * and the cached prefixes, never a conversation. With no replica, a request waits `replicaWaitMs`
 * for one, then fails with `NO_REPLICA` (503). `status` sums the replicas and lists them.
 *
 * @example
 * ```ts
 * const directory = new WorkerDirectory(nc);
 * directory.start();
 * const model = new ClusterModelActor('tiny', directory);
 * router.registerActor('model/tiny', model, model.actorOptions);
 * ```
 */
export class ClusterModelActor extends Actor {
  override readonly protocol = modelProtocol;
  private readonly affinity: SessionAffinity;
  private readonly remotes = new WeakMap<TransportPeer, RemoteActor>();
  private readonly clock: Clock;
  private readonly remoteId: string;

  constructor(
    readonly model: string,
    private readonly directory: WorkerDirectory,
    private readonly options: ClusterModelActorOptions = {},
  ) {
    super();
    this.affinity = new SessionAffinity({ ...(options.maxSessions !== undefined ? { maxSessions: options.maxSessions } : {}) });
    this.clock = options.clock ?? systemClock;
    this.remoteId = parseAddress(kindAddress(ActorKind.Model, model));
  }

  /** Router options: a large mailbox (each replica's own scheduler queues and refuses), every lane concurrent but the adapter changes. */
  get actorOptions(): ActorOptions {
    return { mailboxSize: 10_000, concurrency: Number.MAX_SAFE_INTEGER };
  }

  /** The routing decision for a request now (exposed for tests and logs); `undefined` with no replica. */
  route(session?: string): RouteChoice | undefined {
    if (this.options.routing === 'random') return this.randomRoute();
    const replicas = this.directory.replicasOf(this.model).map((worker) => {
      const stats = worker.load.get(this.model);
      return { worker: worker.worker, inFlight: this.directory.inFlight(worker.worker, this.model), ...(stats ? { stats } : {}) };
    });
    return chooseReplica(replicas, this.affinity.lastWorker(session));
  }

  private randomRoute(): RouteChoice | undefined {
    const replicas = this.directory.replicasOf(this.model);
    if (replicas.length === 0) return undefined;
    const index = Math.min(replicas.length - 1, Math.floor((this.options.random ?? Math.random)() * replicas.length));
    return { worker: (replicas[index] as KnownWorker).worker, reason: RouteReason.Random };
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    if (message.type === ModelMessage.Status) return this.status(message, context);
    if (ADAPTER_CHANGES.has(message.type)) {
      const replicas = await this.replicas(context.signal);
      const replies = await Promise.all(
        replicas.map((worker) => this.forward({ worker, release: this.directory.track(worker.worker, this.model) }, context, (remote) => remote.receive(message, context))),
      );
      return replies[0];
    }
    const picked = await this.pick(sessionOf(message.payload), context);
    return this.forward(picked, context, (remote) => remote.receive(message, context));
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    const picked = await this.pick(sessionOf(payload), context);
    await this.forward(picked, context, (remote) => remote.stream(payload, onChunk, context));
  }

  /**
   * The replica for a request, chosen by the policy and remembered for its session, counted in its
   * in-flight at once: requests arriving together are routed one after another in one turn of the
   * event loop, and each must see the ones chosen before it (counted only once their call began,
   * eight at once all went to the same replica, half of them queueing there).
   */
  private async pick(session: string | undefined, context: ActorContext): Promise<Picked> {
    await this.replicas(context.signal);
    for (;;) {
      const choice = this.route(session);
      const worker = choice && this.directory.replicasOf(this.model).find((replica) => replica.worker === choice.worker);
      if (choice && worker) {
        const release = this.directory.track(worker.worker, this.model);
        this.affinity.record(session, worker.worker);
        context.logger.debug({ model: this.model, worker: worker.worker, reason: choice.reason, session }, 'cluster: routed');
        return { worker, release };
      }
      await this.replicas(context.signal);
    }
  }

  /** Runs one call on a replica (counted in its in-flight since {@link pick}, released when the call ends). */
  private async forward<T>(picked: Picked, context: ActorContext, call: (remote: RemoteActor) => Promise<T>): Promise<T> {
    const { worker, release } = picked;
    try {
      return await call(this.remoteOf(worker.peer));
    } finally {
      release();
      if (context.signal.aborted) context.logger.debug({ model: this.model, worker: worker.worker }, 'cluster: call aborted');
    }
  }

  private remoteOf(peer: TransportPeer): RemoteActor {
    let remote = this.remotes.get(peer);
    if (!remote) {
      remote = new RemoteActor(peer, this.remoteId, modelProtocol);
      this.remotes.set(peer, remote);
    }
    return remote;
  }

  /** The replicas now, or once one is connected within `replicaWaitMs`; else {@link NoReplicaError}. */
  private async replicas(signal: AbortSignal): Promise<readonly KnownWorker[]> {
    const now = this.directory.replicasOf(this.model);
    if (now.length > 0) return now;
    const waitMs = this.options.replicaWaitMs ?? 5_000;
    return new Promise<readonly KnownWorker[]>((resolve, reject) => {
      const finish = (): void => {
        stop();
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const stop = this.directory.onChange(() => {
        const replicas = this.directory.replicasOf(this.model);
        if (replicas.length === 0) return;
        finish();
        resolve(replicas);
      });
      const timer = this.clock.setTimeout(() => {
        finish();
        reject(new NoReplicaError(this.model, waitMs, this.directory.workers.map((worker) => worker.worker)));
      }, waitMs);
      const onAbort = (): void => {
        finish();
        reject(signal.reason instanceof ActorError ? signal.reason : new AbortedError(`waiting for a replica of ${this.model}`, { cause: signal.reason }));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Every replica's status, summed, with the replicas listed (a replica that does not answer counts with its last stats). */
  private async status(message: Message, context: ActorContext): Promise<ModelStatus> {
    const workers = this.directory.replicasOf(this.model);
    const answers = await Promise.all(
      workers.map((worker) =>
        // Not counted in flight: a status is no load.
        this.remoteOf(worker.peer)
          .receive(message, context)
          .then((status: unknown) => status as ModelStatus)
          .catch(() => undefined),
      ),
    );
    const replicas: ModelReplicaStatus[] = workers.map((worker, i) => {
      const answer = answers[i];
      const last = worker.load.get(this.model);
      return {
        worker: worker.worker,
        inFlight: this.directory.inFlight(worker.worker, this.model),
        slots: answer?.slots ?? last?.slots ?? 0,
        busySlots: answer?.busySlots ?? last?.busySlots ?? 0,
        queueDepth: answer?.queueDepth ?? last?.queueDepth ?? 0,
        completed: answer?.completed ?? 0,
        state: answer?.state ?? 'unresponsive',
      };
    });
    const sum = (pick: (status: ModelStatus) => number): number => answers.reduce((total, status) => total + (status ? pick(status) : 0), 0);
    const states = answers.map((status) => status?.state);
    const state = states.includes(ModelLifecycleState.Ready)
      ? ModelLifecycleState.Ready
      : states.includes(ModelLifecycleState.Loading)
        ? ModelLifecycleState.Loading
        : ModelLifecycleState.Unloaded;
    return {
      state,
      slots: sum((s) => s.slots),
      busySlots: sum((s) => s.busySlots),
      queueDepth: sum((s) => s.queueDepth),
      maxQueue: sum((s) => s.maxQueue),
      completed: sum((s) => s.completed),
      tokensGenerated: sum((s) => s.tokensGenerated),
      tokensPerSecond: sum((s) => s.tokensPerSecond),
      contexts: sum((s) => s.contexts),
      cluster: { replicas },
    };
  }
}
