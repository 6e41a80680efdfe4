/**
 * Requests that arrive together at a cluster model are spread over its replicas: each is counted
 * in its replica's in-flight the moment it is routed, so the next one sees it (counted only once
 * their call had begun, eight requests at once all went to one replica). Over a real nats-server
 * and two workers whose fake model holds every answer until the test lets go.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage } from '../../src/actors/ModelActor/types.js';
import { ClusterModelActor } from '../../src/entities/cluster/ClusterModelActor.js';
import { type ModelWorker, serveModelWorker } from '../../src/entities/cluster/serveModelWorker.js';
import { WorkerDirectory } from '../../src/entities/cluster/WorkerDirectory.js';
import { Deferred } from '../../src/messaging/Deferred.js';
import { MessageRouter } from '../../src/messaging/MessageRouter.js';
import { FnActor } from './fixtures.js';
import { NatsServer } from './helpers/natsServer.js';

const silent = pino({ level: 'silent' });
let nats: NatsServer;
const connections: NatsConnection[] = [];
const routers: MessageRouter[] = [];
const workers: ModelWorker[] = [];
let directory: WorkerDirectory;
const hold = new Deferred<void>();

/** A worker whose model `x` answers every message with the worker's name, once `hold` resolves. */
async function worker(name: string): Promise<void> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const router = new MessageRouter({ logger: silent });
  routers.push(router);
  router.registerActor('model/x', new FnActor({ receive: async () => (await hold.promise, { worker: name }) }), { concurrency: 8 });
  workers.push(await serveModelWorker(router, nc, { workerId: name, models: ['x'], logger: silent }));
}

beforeAll(async () => {
  nats = await NatsServer.start();
  await Promise.all(['wa', 'wb'].map(worker));
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  directory = new WorkerDirectory(nc, { logger: silent, pollMs: 60_000 });
  directory.start();
  await directory.poll();
}, 30_000);

afterAll(async () => {
  await directory?.dispose();
  await Promise.all(workers.map((w) => w.dispose()));
  await Promise.all(routers.map((router) => router.dispose()));
  await Promise.all(connections.map((nc) => nc.close()));
  await nats?.stop();
});

describe('requests arriving together', () => {
  it('go to both replicas, two each, not all four to the first', async () => {
    expect(directory.replicasOf('x').map((replica) => replica.worker).sort()).toEqual(['wa', 'wb']);
    const model = new ClusterModelActor('x', directory);
    const router = new MessageRouter({ logger: silent });
    routers.push(router);
    const at = router.registerActor('model/x', model, model.actorOptions);
    const replies = Array.from({ length: 4 }, () => router.ask<{ worker: string }>(at, ModelMessage.Info, null));
    const inFlight = () => ['wa', 'wb'].map((worker) => directory.inFlight(worker, 'x'));
    while (inFlight().reduce((a, b) => a + b) < 4) await new Promise((resolve) => setImmediate(resolve));
    expect(inFlight()).toEqual([2, 2]);
    hold.resolve();
    const served = (await Promise.all(replies)).map((reply) => reply.worker).sort();
    expect(served).toEqual(['wa', 'wa', 'wb', 'wb']);
    expect(inFlight()).toEqual([0, 0]);
  });
});
