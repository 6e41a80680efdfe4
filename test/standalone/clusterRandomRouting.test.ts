/**
 * `routing: 'random'`, the baseline bench/nats.ts measures session-aware routing against: any
 * replica, uniformly, whatever the session, over a real nats-server and two workers (fake model
 * actors are enough: the routing is the subject, not the model).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage } from '../../src/actors/ModelActor/types.js';
import { ClusterModelActor } from '../../src/entities/cluster/ClusterModelActor.js';
import { RouteReason } from '../../src/entities/cluster/chooseReplica.js';
import { type ModelWorker, serveModelWorker } from '../../src/entities/cluster/serveModelWorker.js';
import { WorkerDirectory } from '../../src/entities/cluster/WorkerDirectory.js';
import { MessageRouter } from '../../src/messaging/MessageRouter.js';
import { FnActor } from './fixtures.js';
import { NatsServer } from './helpers/natsServer.js';

const silent = pino({ level: 'silent' });
let nats: NatsServer;
const connections: NatsConnection[] = [];
const routers: MessageRouter[] = [];
const workers: ModelWorker[] = [];
let directory: WorkerDirectory;

/** A worker whose model `x` answers every message with the worker's name. */
async function worker(name: string): Promise<void> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const router = new MessageRouter({ logger: silent });
  routers.push(router);
  router.registerActor('model/x', new FnActor({ receive: () => ({ worker: name }) }));
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

describe("routing: 'random'", () => {
  it('picks the replica the random number falls on, whatever the session; session-aware keeps a session on its replica', async () => {
    expect(directory.replicasOf('x').map((replica) => replica.worker).sort()).toEqual(['wa', 'wb']);
    const order = directory.replicasOf('x').map((replica) => replica.worker);
    const draws = [0, 0.99, 0.5, 0.2, 0.7];
    let next = 0;
    const random = new ClusterModelActor('x', directory, { routing: 'random', random: () => draws[next++ % draws.length] as number });
    const router = new MessageRouter({ logger: silent });
    routers.push(router);
    const at = router.registerActor('model/random-x', random, random.actorOptions);
    const served: string[] = [];
    for (let i = 0; i < draws.length; i++) {
      const reply = await router.ask<{ worker: string }>(at, ModelMessage.Info, null);
      served.push(reply.worker);
    }
    expect(served).toEqual(draws.map((draw) => order[Math.floor(draw * order.length)]));
    expect(random.route('s1')).toMatchObject({ reason: RouteReason.Random });

    const aware = new ClusterModelActor('x', directory);
    const first = aware.route('s1');
    expect(first?.reason).not.toBe(RouteReason.Random);
    const awareAt = router.registerActor('model/aware-x', aware, aware.actorOptions);
    const home = (await router.ask<{ worker: string }>(awareAt, ModelMessage.Info, { session: 's1' })).worker;
    for (let i = 0; i < 4; i++) expect(aware.route('s1')).toEqual({ worker: home, reason: RouteReason.Affinity });
  });
});
