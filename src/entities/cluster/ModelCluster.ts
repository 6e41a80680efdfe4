import type { Logger } from 'pino';
import { address } from '../../messaging/address.js';
import type { ModelManager } from '../ModelManager.js';
import { CLUSTER_PROVIDER_KIND } from './ClusterProvider.js';
import type { WorkerDirectory } from './WorkerDirectory.js';

/** The provider id cluster models are published under. */
export const CLUSTER_PROVIDER_ID = 'cluster';

/** Options of {@link ModelCluster}. */
export interface ModelClusterOptions {
  /** The front end's models; its providers must include a {@link ClusterProvider} over `directory`. */
  models: ModelManager;
  /** The workers, found on NATS. */
  directory: WorkerDirectory;
  /** pino logger. Required (the front end's). */
  logger: Logger;
}

/**
 * A front end's side of the cluster: publishes provider `cluster` and, for each model id its
 * workers announce, a model entity served by that provider (so `/v1/models`, sessions and the API
 * routes see it) and starts its {@link ClusterModelActor} at `model/<id>`. A model id that is also a
 * local model of this front end stays local (logged). A cluster model whose replicas are all gone
 * stays listed (its requests wait for a replica, then fail with `NO_REPLICA`); `dispose()` deletes
 * the entities it published, and `start()` deletes any an earlier run left in the store.
 *
 * @example
 * ```ts
 * const directory = new WorkerDirectory(nc);
 * const models = new ModelManager({ router, store, providers: [new ClusterProvider(directory)] });
 * await using cluster = await ModelCluster.start({ models, directory, logger });
 * ```
 */
export class ModelCluster implements AsyncDisposable {
  private readonly published = new Set<string>();
  private readonly skipped = new Set<string>();
  private syncing: Promise<void> = Promise.resolve();
  private unlisten: (() => void) | undefined;
  private disposing: Promise<void> | undefined;

  private constructor(private readonly options: ModelClusterOptions) {}

  /** Publishes the provider, clears stale cluster models, and starts following the workers. */
  static async start(options: ModelClusterOptions, signal?: AbortSignal): Promise<ModelCluster> {
    const cluster = new ModelCluster(options);
    const { models, directory } = options;
    await models.publishProvider({ id: CLUSTER_PROVIDER_ID, kind: CLUSTER_PROVIDER_KIND }, signal ? { signal } : {});
    for (const model of await models.listModels(signal ? { signal } : {})) {
      if (model.provider === address(CLUSTER_PROVIDER_ID)) await models.deleteModel(model.id).catch(() => {});
    }
    cluster.unlisten = directory.onChange(() => cluster.sync());
    directory.start();
    return cluster;
  }

  /** The cluster models published now. */
  get modelIds(): readonly string[] {
    return [...this.published];
  }

  /** Resolves once every model announced so far is published and started (or at once when `signal` fires). */
  settled(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (!signal) return this.syncing;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      void this.syncing.finally(resolve);
    });
  }

  private sync(): void {
    this.syncing = this.syncing.then(() => this.publishNew()).catch((error: unknown) => this.options.logger.error({ err: error }, 'cluster: publishing a model failed'));
  }

  private async publishNew(): Promise<void> {
    const { models, directory, logger } = this.options;
    const announced = new Set(directory.workers.flatMap((worker) => worker.models));
    for (const id of announced) {
      if (this.published.has(id) || this.skipped.has(id) || this.disposing) continue;
      const existing = await models.getModel(id).catch(() => undefined);
      if (existing && existing.provider !== address(CLUSTER_PROVIDER_ID)) {
        this.skipped.add(id);
        logger.warn({ model: id }, `cluster: model ${id} is also a local model of this front end: the local one serves it`);
        continue;
      }
      try {
        await models.publishModel({ id, provider: address(CLUSTER_PROVIDER_ID), path: `cluster:${id}` });
        this.published.add(id);
        await models.ensureStarted(id);
      } catch (error) {
        // One bad announcement (an id that is no model name) must not hold up the others.
        this.skipped.add(id);
        logger.warn({ err: error, model: id }, `cluster: model ${id} announced by a worker could not be published`);
        continue;
      }
      logger.info({ model: id, replicas: directory.replicasOf(id).map((worker) => worker.worker) }, 'cluster: model published');
    }
  }

  /** Stops following the workers, deletes the cluster models it published (their actors stop) and disposes the directory. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      this.unlisten?.();
      await this.syncing;
      for (const id of this.published) await this.options.models.deleteModel(id).catch(() => {});
      this.published.clear();
      await this.options.directory.dispose();
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
