import type { InferenceProvider } from '../InferenceProvider.js';
import type { ModelEntity } from '../types.js';
import { ClusterModelActor, type ClusterModelActorOptions } from './ClusterModelActor.js';
import type { WorkerDirectory } from './WorkerDirectory.js';

/** The provider kind of models served by a NATS cluster's workers. */
export const CLUSTER_PROVIDER_KIND = 'nats-cluster';

/**
 * Runs a cluster model as a {@link ClusterModelActor} over a {@link WorkerDirectory}: what a front
 * end's `ModelManager` starts for the models its workers announce (see {@link ModelCluster}).
 *
 * @example
 * ```ts
 * const directory = new WorkerDirectory(nc);
 * const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider(), new ClusterProvider(directory)] });
 * ```
 */
export class ClusterProvider implements InferenceProvider {
  readonly kind = CLUSTER_PROVIDER_KIND;

  /** @param options the cluster models' options (replica wait, sessions remembered, clock). Defaults to ClusterModelActor's. */
  constructor(
    readonly directory: WorkerDirectory,
    private readonly options: ClusterModelActorOptions = {},
  ) {}

  createModelActor(model: ModelEntity) {
    const actor = new ClusterModelActor(model.id, this.directory, this.options);
    return { actor, options: actor.actorOptions };
  }
}
