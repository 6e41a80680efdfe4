import type { NatsConnection } from '@nats-io/nats-core';
import { type ServiceClient, type ServiceInfo, type ServiceStats, Svcm } from '@nats-io/services';
import { pino, type Logger } from 'pino';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { describe } from '../../messaging/errors.js';
import { connectNats } from '../../messaging/transport/nats/connectNats.js';
import { TransportPeer } from '../../messaging/transport/TransportPeer.js';
import type { ReplicaLoad } from './chooseReplica.js';
import { WORKER_SERVICE_NAME, WorkerMetadata } from './clusterSubjects.js';
import { type WorkerAnnouncement, parseLoadReport } from './workerLoad.js';

/** Options of {@link WorkerDirectory}. */
export interface WorkerDirectoryOptions {
  /** How often to ask `$SRV.INFO` and `$SRV.STATS` for the workers and their load, in ms. Defaults to `1_000`. */
  pollMs?: number;
  /** Heartbeat period of each worker's peer, in ms. Defaults to `300`. */
  heartbeatMs?: number;
  /** A worker silent for this long is lost (its calls fail with `ACTOR_HOST_LOST`) and forgotten, in ms. Defaults to `1_500`. */
  heartbeatTimeoutMs?: number;
  /** How long a connect to a worker and its hello may take, in ms. Defaults to `3_000`. */
  connectTimeoutMs?: number;
  /** pino logger. Defaults to a silent one. */
  logger?: Logger;
  /** Time source of the polling. Defaults to the system clock. */
  clock?: Clock;
}

/** A worker the directory is connected to. */
export interface KnownWorker extends WorkerAnnouncement {
  /** The peer its models are reached through. */
  readonly peer: TransportPeer;
  /** Each model's load as its last stats said, with this front end's in-flight count at that time. */
  readonly load: ReadonlyMap<string, ReplicaLoad>;
}

interface WorkerEntry extends WorkerAnnouncement {
  peer: TransportPeer;
  load: Map<string, ReplicaLoad>;
}

/** The worker announcement in a service's info; `undefined` when it is not a worker's. */
function announcement(info: ServiceInfo): WorkerAnnouncement | undefined {
  const worker = info.metadata?.[WorkerMetadata.Worker];
  const subject = info.metadata?.[WorkerMetadata.Subject];
  const models = info.metadata?.[WorkerMetadata.Models];
  if (!worker || !subject || models === undefined) return undefined;
  return { worker, subject, models: models.split(',').filter(Boolean) };
}

/**
 * A front end's view of the cluster's model workers, found with the `@nats-io/services` client:
 * every `pollMs` it asks `$SRV.INFO` for the `llama-actors-worker` services (their metadata name the
 * worker, its connect subject and its models) and `$SRV.STATS` for their load, connects one
 * {@link TransportPeer} per new worker (heartbeats every `heartbeatMs`) and forgets a worker as soon
 * as its peer is lost (killed, partitioned, nats-server gone: a later poll finds it again if it is
 * back). It also keeps this front end's own in-flight count per worker and model, which the routing
 * policy adds to the last stats.
 *
 * @example
 * ```ts
 * const directory = new WorkerDirectory(nc, { pollMs: 1_000 });
 * directory.onChange(() => console.log(directory.workers.map((w) => `${w.worker}: ${w.models}`)));
 * directory.start();
 * ```
 */
export class WorkerDirectory implements AsyncDisposable {
  private readonly known = new Map<string, WorkerEntry>();
  private readonly connecting = new Map<string, Promise<void>>();
  private readonly inFlightCounts = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private readonly client: ServiceClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private timer: unknown;
  private polling: Promise<void> | undefined;
  private disposed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: WorkerDirectoryOptions = {},
  ) {
    this.client = new Svcm(nc).client();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.clock = options.clock ?? systemClock;
  }

  /** The workers connected now. */
  get workers(): readonly KnownWorker[] {
    return [...this.known.values()];
  }

  /** The workers serving `model` now. */
  replicasOf(model: string): readonly KnownWorker[] {
    return this.workers.filter((worker) => worker.models.includes(model));
  }

  /** This front end's requests in flight on `worker` for `model`. */
  inFlight(worker: string, model: string): number {
    return this.inFlightCounts.get(`${worker}\u0000${model}`) ?? 0;
  }

  /** Counts a request in flight on `worker` for `model`; returns its release (idempotent). */
  track(worker: string, model: string): () => void {
    const key = `${worker}\u0000${model}`;
    this.inFlightCounts.set(key, (this.inFlightCounts.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlightCounts.get(key) ?? 1) - 1;
      if (left > 0) this.inFlightCounts.set(key, left);
      else this.inFlightCounts.delete(key);
    };
  }

  /** Called whenever a worker is added or forgotten, or new stats came. Returns a function that stops listening. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Starts polling (the first poll at once). */
  start(): void {
    if (this.disposed || this.timer !== undefined || this.polling) return;
    const loop = (): void => {
      this.timer = undefined;
      void this.poll().finally(() => {
        if (this.disposed) return;
        this.timer = this.clock.setTimeout(loop, this.options.pollMs ?? 1_000);
        (this.timer as { unref?: () => void } | undefined)?.unref?.();
      });
    };
    loop();
  }

  /**
   * One round: asks the services for the workers and their load, connects the new ones. Never
   * throws; `signal` stops the wait for it (the round itself goes on, shared with the polling).
   */
  poll(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    const { signal } = options;
    if (!signal) return this.polling;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      void this.polling?.finally(resolve);
    });
  }

  private async pollOnce(): Promise<void> {
    if (this.disposed || this.nc.isClosed()) return;
    try {
      const [infos, stats] = await Promise.all([this.collect(this.client.info(WORKER_SERVICE_NAME)), this.collect(this.client.stats(WORKER_SERVICE_NAME))]);
      const seen = new Set<string>();
      for (const info of infos) {
        const found = announcement(info);
        if (!found) continue;
        if (seen.has(found.worker)) this.logger.warn({ worker: found.worker }, 'two model workers announce the same id: give each its own --name');
        seen.add(found.worker);
        if (!this.known.has(found.worker) && !this.connecting.has(found.worker)) {
          const connecting = this.connect(found).finally(() => this.connecting.delete(found.worker));
          this.connecting.set(found.worker, connecting);
        }
      }
      await Promise.all(this.connecting.values());
      if (this.readStats(stats)) this.changed();
    } catch (error) {
      this.logger.debug({ err: error }, 'cluster: polling the workers failed');
    }
  }

  private async collect<T>(query: Promise<AsyncIterable<T>>): Promise<T[]> {
    const found: T[] = [];
    for await (const item of await query) found.push(item);
    return found;
  }

  /** Stores each known worker's model loads from its stats; whether any was stored. */
  private readStats(stats: readonly ServiceStats[]): boolean {
    let any = false;
    for (const stat of stats) {
      const worker = stat.metadata?.[WorkerMetadata.Worker];
      const entry = worker === undefined ? undefined : this.known.get(worker);
      if (!entry) continue;
      for (const endpoint of stat.endpoints ?? []) {
        const report = parseLoadReport(endpoint.data);
        if (!report || report.worker !== entry.worker) continue;
        for (const [model, load] of Object.entries(report.models)) {
          entry.load.set(model, { ...load, inFlightAtStats: this.inFlight(entry.worker, model) });
          any = true;
        }
      }
    }
    return any;
  }

  private async connect(found: WorkerAnnouncement): Promise<void> {
    const timeout = this.options.connectTimeoutMs ?? 3_000;
    let peer: TransportPeer | undefined;
    try {
      const transport = await connectNats(this.nc, { subject: found.subject, timeout, logger: this.logger });
      peer = new TransportPeer(transport, {
        logger: this.logger,
        heartbeatMs: this.options.heartbeatMs ?? 300,
        heartbeatTimeoutMs: this.options.heartbeatTimeoutMs ?? 1_500,
      });
      await peer.actors({ signal: AbortSignal.timeout(timeout) });
    } catch (error) {
      this.logger.warn({ err: error, worker: found.worker, subject: found.subject }, `cluster: could not connect to worker ${found.worker}: ${describe(error)}`);
      await peer?.dispose();
      return;
    }
    if (this.disposed || peer.lost) {
      await peer.dispose();
      return;
    }
    const entry: WorkerEntry = { ...found, peer, load: new Map() };
    this.known.set(found.worker, entry);
    peer.onLost((error) => this.forget(entry, error.message));
    this.logger.info({ worker: found.worker, models: found.models }, 'cluster: worker joined');
    this.changed();
  }

  private forget(entry: WorkerEntry, why: string): void {
    if (this.known.get(entry.worker) !== entry) return;
    this.known.delete(entry.worker);
    this.logger.warn({ worker: entry.worker, models: entry.models }, `cluster: worker ${entry.worker} lost: ${why}`);
    void entry.peer.dispose();
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: error }, 'cluster: a directory listener threw');
      }
    }
  }

  /** Stops polling and disposes every worker's peer (their calls in flight are aborted). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    await this.polling;
    await Promise.allSettled(this.connecting.values());
    const peers = [...this.known.values()].map((entry) => entry.peer);
    this.known.clear();
    this.listeners.clear();
    await Promise.allSettled(peers.map((peer) => peer.dispose()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
