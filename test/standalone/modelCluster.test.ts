/**
 * A front end's cluster models over a real nats-server, with workers whose models are fake actors
 * (the cluster's bookkeeping is the subject, not llama.cpp): ModelCluster publishes a model entity
 * and starts its ClusterModelActor for each model the workers announce, deletes the cluster models
 * an earlier run left, leaves a local model of the same id alone; a request finding no replica
 * waits for one (served when a worker comes) or fails with NO_REPLICA naming the wait and the
 * workers; a worker that stops is forgotten; dispose deletes what it published.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage } from '../../src/actors/ModelActor/types.js';
import { ClusterModelActor } from '../../src/entities/cluster/ClusterModelActor.js';
import { ClusterProvider } from '../../src/entities/cluster/ClusterProvider.js';
import { CLUSTER_PROVIDER_ID, ModelCluster } from '../../src/entities/cluster/ModelCluster.js';
import { NoReplicaError } from '../../src/entities/cluster/NoReplicaError.js';
import { type ModelWorker, serveModelWorker } from '../../src/entities/cluster/serveModelWorker.js';
import { WorkerDirectory } from '../../src/entities/cluster/WorkerDirectory.js';
import { LocalLlamaProvider } from '../../src/entities/LocalLlamaProvider.js';
import { ModelManager } from '../../src/entities/ModelManager.js';
import { MemoryStore } from '../../src/entities/store/MemoryStore.js';
import { address } from '../../src/messaging/address.js';
import { MessageRouter } from '../../src/messaging/MessageRouter.js';
import { FnActor } from './fixtures.js';
import { NatsServer } from './helpers/natsServer.js';

const silent = pino({ level: 'silent' });
let nats: NatsServer;
const connections: NatsConnection[] = [];
const routers: MessageRouter[] = [];

async function nc(): Promise<NatsConnection> {
  const connection = await connect({ servers: nats.url });
  connections.push(connection);
  return connection;
}

/** A worker whose models answer every message with the worker's name. */
async function worker(name: string, models: string[]): Promise<ModelWorker> {
  const router = new MessageRouter({ logger: silent });
  routers.push(router);
  for (const model of models) router.registerActor(`model/${model}`, new FnActor({ receive: (message) => ({ worker: name, type: message.type }) }));
  return serveModelWorker(router, await nc(), { workerId: name, models, logger: silent });
}

beforeAll(async () => {
  nats = await NatsServer.start();
}, 30_000);

afterAll(async () => {
  await Promise.all(routers.map((router) => router.dispose()));
  await Promise.all(connections.map((connection) => connection.close()));
  await nats?.stop();
});

describe('ModelCluster', () => {
  it('publishes and serves the announced models, waits for a replica or fails typed, forgets a stopped worker', async () => {
    const w1 = await worker('w1', ['x', 'dup']);
    const directory = new WorkerDirectory(await nc(), { logger: silent, pollMs: 60_000, heartbeatMs: 100, heartbeatTimeoutMs: 1_000 });
    const router = new MessageRouter({ logger: silent });
    routers.push(router);
    const store = new MemoryStore();
    const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider(), new ClusterProvider(directory, { replicaWaitMs: 300 })] });
    await models.publishProvider({ id: 'local', kind: 'local-llama' });
    await models.publishModel({ id: 'dup', provider: address('local'), path: 'dup.gguf' });
    // A cluster model an earlier run left in the store.
    await models.publishProvider({ id: CLUSTER_PROVIDER_ID, kind: 'nats-cluster' });
    await models.publishModel({ id: 'stale', provider: address(CLUSTER_PROVIDER_ID), path: 'cluster:stale' });

    const cluster = await ModelCluster.start({ models, directory, logger: silent });
    await directory.poll();
    await cluster.settled();
    const listed = Object.fromEntries((await models.listModels()).map((model) => [model.id, model.provider]));
    expect(listed).toEqual({ x: address(CLUSTER_PROVIDER_ID), dup: address('local') });
    expect(cluster.modelIds).toEqual(['x']);
    expect(router.has('model/dup')).toBe(false); // the local one, not started by the cluster
    expect(await router.ask('model/x', ModelMessage.Info, null)).toEqual({ worker: 'w1', type: ModelMessage.Info });

    // No replica of y: typed, naming the wait and the workers connected.
    const lonely = new ClusterModelActor('y', directory, { replicaWaitMs: 200 });
    router.registerActor('model/y', lonely, lonely.actorOptions);
    const started = Date.now();
    const refused = await router.ask('model/y', ModelMessage.Info, null).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NoReplicaError);
    expect(refused).toMatchObject({ code: 'NO_REPLICA', message: 'model y has no replica: no worker serving it answered within 200 ms (1 worker connected: w1)' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    // A request that waits is served by a worker that comes meanwhile.
    const patient = new ClusterModelActor('z', directory, { replicaWaitMs: 5_000 });
    router.registerActor('model/z', patient, patient.actorOptions);
    const waiting = router.ask('model/z', ModelMessage.Info, null);
    const w2 = await worker('w2', ['z']);
    await directory.poll();
    expect(await waiting).toEqual({ worker: 'w2', type: ModelMessage.Info });

    // A worker that stops is forgotten at once (its connections close), and its model has no replica.
    await w1.dispose();
    await expect.poll(() => directory.workers.map((known) => known.worker), { timeout: 2_000 }).toEqual(['w2']);
    await expect(router.ask('model/x', ModelMessage.Info, null)).rejects.toMatchObject({ code: 'NO_REPLICA' });

    await cluster.dispose();
    expect((await models.listModels()).map((model) => model.id)).toEqual(['dup']);
    expect(router.has('model/x')).toBe(false);
    await w2.dispose();
  }, 15_000);
});
