/**
 * What the NATS transport adds to the contract (natsContract.test.ts runs that over NATS): the
 * connect and its typed failures, the queue group sharing connects between replicas, the exporter
 * releasing a connection whose caller closed or vanished, a host whose NATS connection dies
 * mid-stream, and a connect after nats-server restarted. Against a real nats-server per file.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError, TimeoutError, type TokenStreamEvent } from '../../src/index.js';
import { Deferred } from '../../src/messaging/Deferred.js';
import { ActorHostLostError, TransportErrorCode } from '../../src/messaging/transport/ActorHostLostError.js';
import { connectNats } from '../../src/messaging/transport/nats/connectNats.js';
import { NatsConnectFailedError } from '../../src/messaging/transport/nats/NatsConnectFailedError.js';
import { NatsConnectionClosedError } from '../../src/messaging/transport/nats/NatsConnectionClosedError.js';
import { NatsErrorCode } from '../../src/messaging/transport/nats/NatsErrorCode.js';
import { type NatsServedConnection, serveNats } from '../../src/messaging/transport/nats/serveNats.js';
import { NoRespondersError } from '../../src/messaging/transport/nats/NoRespondersError.js';
import type { TransportCloseReason } from '../../src/messaging/transport/Transport.js';
import { ManualClock, newRouter } from './fixtures.js';
import { natsCaller, natsConnection, natsHost, natsServer, stopNatsServer, uniqueSubject } from './helpers/natsSetups.js';
import { PROBE, ProbeMessage, registerProbeActors } from './helpers/transportActors.js';
import { eventually, probeStats } from './helpers/transportSetups.js';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];

/** Registers `value`'s dispose for after the test, and returns it. */
function later<T extends { dispose(): Promise<void> }>(value: T): T {
  cleanups.push(() => value.dispose());
  return value;
}

async function connection(): Promise<NatsConnection> {
  const nc = await natsConnection();
  cleanups.push(async () => void (nc.isClosed() || (await nc.close())));
  return nc;
}

/** The next connection `server` serves, and the reason it closes with. */
function nextServed(server: { onConnection(l: (c: NatsServedConnection) => void): () => void }): { served: Promise<NatsServedConnection>; closed: Promise<TransportCloseReason> } {
  const served = new Deferred<NatsServedConnection>();
  const closed = new Deferred<TransportCloseReason>();
  const stop = server.onConnection((c) => {
    stop();
    served.resolve(c);
    c.transport.onClose((reason) => closed.resolve(reason));
  });
  return { served: served.promise, closed: closed.promise };
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await stopNatsServer();
});

describe('connectNats: a connect that fails is typed', () => {
  it('nobody serving the subject: NO_RESPONDERS at once, not after the timeout', async () => {
    const nc = await connection();
    const subject = uniqueSubject();
    // A minute's timeout: only NATS's immediate "no responders" can end this within the test's 5 s.
    const error = await connectNats(nc, { subject, timeout: 60_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoRespondersError);
    expect(error).toMatchObject({ code: NatsErrorCode.NoResponders, kind: 'unavailable', subject, message: `no exporter listens on NATS subject ${subject} (no responders)` });
  });

  it('a listener that never answers: TIMEOUT naming the subject and the milliseconds', async () => {
    const nc = await connection();
    const subject = uniqueSubject();
    const mute = nc.subscribe(subject, { callback: () => {} });
    await nc.flush();
    const error = await connectNats(nc, { subject, timeout: 100 }).catch((e: unknown) => e);
    mute.unsubscribe();
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', timeoutMs: 100, message: `connect to NATS subject ${subject} timed out after 100 ms` });
  });

  it('a closed NATS connection: NATS_CONNECTION_CLOSED; an answer that is not an exporter’s: NATS_CONNECT_FAILED', async () => {
    const server = await natsServer();
    const closedNc = await connect({ servers: server.url });
    await closedNc.close();
    const subject = uniqueSubject();
    await expect(connectNats(closedNc, { subject })).rejects.toMatchObject({
      constructor: NatsConnectionClosedError,
      code: NatsErrorCode.ConnectionClosed,
      message: `cannot connect to NATS subject ${subject}: the NATS connection is closed`,
    });
    const nc = await connection();
    const other = nc.subscribe(subject, { callback: (_e, msg) => void msg.respond('hello, I am a clock service') });
    await nc.flush();
    const error = await connectNats(nc, { subject }).catch((e: unknown) => e);
    other.unsubscribe();
    expect(error).toBeInstanceOf(NatsConnectFailedError);
    expect(error).toMatchObject({ code: NatsErrorCode.ConnectFailed, message: `cannot connect to NATS subject ${subject}: its answer names no inbox: hello, I am a clock service` });
    await expect(connectNats(nc, { subject: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('an abort: ABORTED at once, and an exporter that answers afterwards is told to close', async () => {
    const nc = await connection();
    const subject = uniqueSubject();
    const controller = new AbortController();
    const told = new Deferred<string>();
    const exporterInbox = nc.subscribe(`${subject}.inbox`, { callback: (_e, msg) => told.resolve(msg.string()) });
    const slow = nc.subscribe(subject, {
      callback: (_e, msg) => {
        controller.abort();
        // Answered after the caller gave up.
        setImmediate(() => msg.respond(JSON.stringify({ inbox: `${subject}.inbox` })));
      },
    });
    await nc.flush();
    const error = await connectNats(nc, { subject, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as Error).message).toBe(`connect to NATS subject ${subject} was aborted`);
    await expect(told.promise).resolves.toBe('{"$close":true}');
    slow.unsubscribe();
    exporterInbox.unsubscribe();
  });
});

describe('serveNats', () => {
  it('two exporters in one queue group share the connects, each serving its own', async () => {
    const subject = uniqueSubject();
    const hosts = [later(await natsHost(subject)), later(await natsHost(subject))];
    const served = [0, 0];
    hosts.forEach((host, i) => host.server.onConnection(() => void (served[i] = (served[i] ?? 0) + 1)));
    await Promise.all(hosts.map((host) => host.nc.flush()));
    for (let i = 0; i < 24; i++) {
      const caller = await natsCaller(subject);
      await expect(caller.router.ask(PROBE, ProbeMessage.Echo, i)).resolves.toMatchObject({ echoed: i });
      await caller.dispose();
    }
    expect(served[0]! + served[1]!).toBe(24);
    // Each is picked at random: both stay unused with odds of 2 in 2^24.
    expect(served[0]).toBeGreaterThan(0);
    expect(served[1]).toBeGreaterThan(0);
  });

  it('a caller that closes: its connection ends at the exporter, aborting what it started', async () => {
    const subject = uniqueSubject();
    const host = later(await natsHost(subject));
    const next = nextServed(host.server);
    const caller = later(await natsCaller(subject));
    const ask = caller.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity }).catch((e: unknown) => e);
    await eventually(() => probeStats(host.router), (s) => s.hanging === 1, 'the hang handler running');
    expect(host.server.connections).toHaveLength(1);
    await caller.transport.close();
    await expect(next.closed).resolves.toEqual({ message: 'the other end closed the transport' });
    expect(await eventually(() => probeStats(host.router), (s) => s.hanging === 0, 'the hang handler aborted')).toMatchObject({ aborted: 1 });
    expect(host.server.connections).toHaveLength(0);
    expect(await ask).toBeInstanceOf(ActorHostLostError);
  });

  it('a caller that vanishes (its NATS connection gone, no goodbye): closed after idleTimeoutMs of silence, its calls aborted', async () => {
    const subject = uniqueSubject();
    const nc = await connection();
    const clock = new ManualClock();
    const router = newRouter();
    registerProbeActors(router);
    cleanups.push(() => router.dispose());
    const server = later(serveNats(router, nc, { subject, logger: silent, clock, idleTimeoutMs: 10_000 }));
    const next = nextServed(server);
    const caller = later(await natsCaller(subject));
    void caller.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity }).catch(() => {});
    await eventually(() => probeStats(router), (s) => s.hanging === 1, 'the hang handler running');
    await (await next.served).transport.nc.flush();
    // Its caller's frames stop here: the caller's connection dies without closing the transport.
    const callerNc = caller.nc;
    await callerNc.close();
    clock.advance(9_999);
    expect(server.connections).toHaveLength(1);
    clock.advance(2_500);
    await expect(next.closed).resolves.toEqual({ message: 'nothing came from the other end for 10000 ms' });
    expect(await eventually(() => probeStats(router), (s) => s.hanging === 0, 'the hang handler aborted')).toMatchObject({ aborted: 1 });
    expect(server.connections).toHaveLength(0);
  });

  it('the exporter’s NATS connection killed mid-stream: the caller’s stream ends with ACTOR_HOST_LOST, no hang', async () => {
    const subject = uniqueSubject();
    const host = later(await natsHost(subject));
    const caller = later(await natsCaller(subject));
    const stream = caller.router.stream(PROBE, ProbeMessage.Count, { n: 2_000 }, { highWaterMark: 4 });
    const events = stream[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ type: 'token', content: 't0' });
    await host.nc.close();
    // Nothing can come from the host any more: the peer's heartbeat notices its silence.
    for (let beat = 0; beat < 30 && !caller.peer.lost; beat++) {
      caller.clock.advance(1_000);
      await caller.nc.flush();
    }
    expect(caller.peer.lost).toBe(true);
    const rest: TokenStreamEvent[] = [];
    for (let step = await events.next(); !step.done; step = await events.next()) rest.push(step.value);
    expect(rest.filter((e) => e.type === 'done' || e.type === 'error')).toEqual([
      expect.objectContaining({ type: 'error', code: TransportErrorCode.ActorHostLost, error: 'actor probe/main lost: its host answered no heartbeat for 5000 ms' }),
    ]);
    await expect(stream).rejects.toBeInstanceOf(ActorHostLostError);
    expect(await eventually(() => probeStats(host.router), (s) => s.aborted === 1, 'the producer aborted')).toMatchObject({ aborted: 1 });
  });

  it('nats-server restarts: open connections close (frames may be lost), and a connect after the reconnect succeeds', async () => {
    const subject = uniqueSubject();
    const host = later(await natsHost(subject));
    const caller = later(await natsCaller(subject));
    const closed = new Deferred<TransportCloseReason>();
    caller.transport.onClose((reason) => closed.resolve(reason));
    const reconnected = [host.nc, caller.nc].map(async (nc) => {
      for await (const status of nc.status()) if (status.type === 'reconnect') return;
    });
    const server = await natsServer();
    await server.stop();
    expect((await closed.promise).message).toMatch(/^its NATS connection lost the server .+ \(frames in flight may be lost\)$/);
    await server.restart();
    await Promise.all(reconnected);
    await host.nc.flush();
    const again = later(await natsCaller(subject));
    await expect(again.router.ask(PROBE, ProbeMessage.Echo, 'back')).resolves.toMatchObject({ echoed: 'back' });
  });
});
