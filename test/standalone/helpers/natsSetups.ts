/**
 * The transport contract suite's setup over NATS (natsContract.test.ts runs transport.test.ts with
 * it), and the pieces the NATS-specific tests share: one real nats-server per test file, started
 * on first use, and a host router whose probe actors are served by serveNats on a subject of its
 * own. Like transportSetups.ts's, the caller's router and peer run on a manual clock.
 *
 * This module must not import transportSetups.ts at run time: the contract test replaces that
 * module with one whose SETUPS is this setup, and its factory imports this one.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type { MessageRouter } from '../../../src/index.js';
import { connectActors } from '../../../src/messaging/transport/connectActors.js';
import { TransportFrameType } from '../../../src/messaging/transport/frames.js';
import { connectNats } from '../../../src/messaging/transport/nats/connectNats.js';
import { type NatsActorServer, type NatsServedConnection, serveNats } from '../../../src/messaging/transport/nats/serveNats.js';
import { TransportPeer } from '../../../src/messaging/transport/TransportPeer.js';
import { ManualClock, newRouter } from '../fixtures.js';
import { NatsServer } from './natsServer.js';
import { registerProbeActors } from './transportActors.js';
import type { Setup } from './transportSetups.js';

/** The contract suite's buffers (transportSetups.ts's HWM). */
const HWM = 4;
const silent = pino({ level: 'silent' });

let shared: Promise<NatsServer> | undefined;

/** This test file's nats-server, started on first use. */
export function natsServer(): Promise<NatsServer> {
  shared ??= NatsServer.start();
  return shared;
}

/** Stops this test file's nats-server (an `afterAll`). */
export async function stopNatsServer(): Promise<void> {
  const server = shared;
  shared = undefined;
  if (server) await (await server).stop();
}

let nextSubject = 1;

/** A service subject no other test of this file uses. */
export function uniqueSubject(): string {
  return `la.test.${process.pid}.${nextSubject++}.connect`;
}

/** A NATS connection to this file's server, reconnecting without limit (the restart test needs it). */
export async function natsConnection(): Promise<NatsConnection> {
  const server = await natsServer();
  return connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
}

/** A host router with the probe actors, served over NATS on `subject`. */
export async function natsHost(subject: string): Promise<{ router: MessageRouter; nc: NatsConnection; server: NatsActorServer; dispose(): Promise<void> }> {
  const nc = await natsConnection();
  const router = newRouter({ highWaterMark: HWM });
  registerProbeActors(router);
  const server = serveNats(router, nc, { subject, logger: silent, idleTimeoutMs: 60_000 });
  return {
    router,
    nc,
    server,
    dispose: async () => {
      await server.dispose();
      await router.dispose();
      if (!nc.isClosed()) await nc.close();
    },
  };
}

/** The contract suite's setup: the probe actors behind serveNats, reached through connectNats. */
export async function overNats(): Promise<Setup> {
  const subject = uniqueSubject();
  const host = await natsHost(subject);
  let served: NatsServedConnection | undefined;
  host.server.onConnection((connection) => (served = connection));
  const { transport, peer, router, clock, dispose } = await natsCaller(subject);
  let pongs = 0;
  transport.onFrame((frame) => {
    if (frame.type === TransportFrameType.Pong) pongs++;
  });
  return {
    router,
    clock,
    remote: {
      peer,
      transport,
      pongs: () => pongs,
      // The host stops answering, its connection left open.
      stall: async () => void (await served?.exported.dispose()),
    },
    dispose: async () => {
      await dispose();
      await host.dispose();
    },
  };
}

/** A caller reaching the actors served on `subject`: its own NATS connection, transport, peer (on a manual clock) and router. */
export async function natsCaller(subject: string): Promise<{
  nc: NatsConnection;
  transport: Awaited<ReturnType<typeof connectNats>>;
  peer: TransportPeer;
  router: MessageRouter;
  clock: ManualClock;
  dispose(): Promise<void>;
}> {
  const nc = await natsConnection();
  const transport = await connectNats(nc, { subject, logger: silent });
  const clock = new ManualClock();
  const peer = new TransportPeer(transport, { clock, logger: silent });
  const router = newRouter({ clock });
  await connectActors(router, peer, { highWaterMark: HWM });
  return {
    nc,
    transport,
    peer,
    router,
    clock,
    dispose: async () => {
      await router.dispose();
      await peer.dispose();
      if (!nc.isClosed()) await nc.close();
    },
  };
}
