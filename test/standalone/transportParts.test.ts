import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  ActorAlreadyRegisteredError,
  ActorError,
  ActorFailedError,
  DisposedError,
  ErrorCode,
  InvalidArgumentError,
  MailboxFullError,
  TimeoutError,
} from '../../src/index.js';
import { ActorHostLostError } from '../../src/messaging/transport/ActorHostLostError.js';
import { ChildProcessTransport } from '../../src/messaging/transport/ChildProcessTransport.js';
import { connectActors } from '../../src/messaging/transport/connectActors.js';
import { exportActors } from '../../src/messaging/transport/exportActors.js';
import { decodeFrameBatch } from '../../src/messaging/transport/FrameBatcher.js';
import { type ChunkFrame, type TransportFrame, TransportFrameType } from '../../src/messaging/transport/frames.js';
import { InMemoryTransport } from '../../src/messaging/transport/InMemoryTransport.js';
import type { TransportCloseReason } from '../../src/messaging/transport/Transport.js';
import { TransportPeer } from '../../src/messaging/transport/TransportPeer.js';
import { errorFromWire, errorToWire, registerWireError } from '../../src/messaging/transport/wireErrors.js';
import { flush, FnActor, ManualClock, newRouter } from './fixtures.js';
import { PlainActor, PROBE, ProbeActor, ProbeMessage, type ProbeStats, QuotaError } from './helpers/transportActors.js';
import { silent } from './helpers/transportSetups.js';

const tell = (payload: unknown): TransportFrame => ({ type: TransportFrameType.Tell, to: 'a', messageType: 'm', payload });

describe('wire errors', () => {
  it('a registered class comes back as itself, with code, kind, message, fields and the remote stack, through structuredClone and JSON alike', () => {
    const original = new MailboxFullError('model/tiny', 8, 8);
    for (const wire of [structuredClone(errorToWire(original)), JSON.parse(JSON.stringify(errorToWire(original)))]) {
      const back = errorFromWire(wire);
      expect(back).toBeInstanceOf(MailboxFullError);
      expect(back).toBeInstanceOf(Error);
      expect(back).toMatchObject({ name: 'MailboxFullError', code: ErrorCode.MailboxFull, kind: 'overloaded', actorId: 'model/tiny', waiting: 8, limit: 8 });
      expect(back.message).toBe(original.message);
      expect(back.stack).toBe(original.stack);
    }
  });

  it('an unknown code becomes a plain ActorError with its code and kind; an unknown kind is internal', () => {
    const back = errorFromWire({ name: 'WeirdError', message: 'weird: 3 of 2', code: 'WEIRD', kind: 'not_found' });
    expect(back.constructor).toBe(ActorError);
    expect(back).toMatchObject({ code: 'WEIRD', kind: 'not_found', message: 'weird: 3 of 2' });
    expect(errorFromWire({ name: 'X', message: 'x', code: 'X', kind: 'made-up' }).kind).toBe('internal');
  });

  it('a class registered for a code wins over the name', () => {
    class LegacyQuotaError extends QuotaError {}
    registerWireError('LEGACY_QUOTA', LegacyQuotaError);
    const back = errorFromWire({ name: 'QuotaError', message: 'old', code: 'LEGACY_QUOTA', kind: 'overloaded' });
    expect(back).toBeInstanceOf(LegacyQuotaError);
  });

  it('anything that is not an ActorError is wrapped as the router would: ACTOR_FAILED naming the actor, the original its cause', () => {
    const back = errorFromWire(structuredClone(errorToWire(new RangeError('index 9 out of 4'), 'model/tiny')));
    expect(back).toBeInstanceOf(ActorFailedError);
    expect(back).toMatchObject({ code: ErrorCode.ActorFailed, actorId: 'model/tiny', message: 'actor @(model/tiny) failed: index 9 out of 4' });
    expect(back.cause).toBeInstanceOf(Error);
    expect(back.cause).toMatchObject({ name: 'RangeError', message: 'index 9 out of 4' });
  });

  it('only plain-data fields travel: functions, class instances and maps are left behind', () => {
    const error = Object.assign(new ActorError('X', 'x'), { n: 1, list: [1, { a: 'b' }], fn: () => 1, map: new Map(), when: new Date(0) });
    expect(errorToWire(error).fields).toEqual({ n: 1, list: [1, { a: 'b' }] });
    expect(() => structuredClone(errorToWire(error))).not.toThrow();
  });
});

describe('InMemoryTransport', () => {
  it('delivers copies, in order, never synchronously', async () => {
    const [a, b] = InMemoryTransport.pair({ logger: silent });
    const got: TransportFrame[] = [];
    b.onFrame((frame) => got.push(frame));
    const payload = { n: 1 };
    a.send(tell(payload));
    a.send(tell({ n: 2 }));
    expect(got).toEqual([]);
    await flush();
    expect(got.map((f) => (f.type === TransportFrameType.Tell ? f.payload : undefined))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(got[0]?.type === TransportFrameType.Tell && got[0].payload).not.toBe(payload);
  });

  it('a frame that cannot be cloned throws at the sender, and nothing is delivered', async () => {
    const [a, b] = InMemoryTransport.pair({ logger: silent });
    const got: TransportFrame[] = [];
    b.onFrame((frame) => got.push(frame));
    expect(() => a.send(tell({ call: () => 1 }))).toThrow(/could not be cloned/);
    await flush();
    expect(got).toEqual([]);
  });

  it('close: this end at once, the other after the frames in flight, each told once; later sends are dropped', async () => {
    const [a, b] = InMemoryTransport.pair({ logger: silent });
    const seen: string[] = [];
    a.onClose((r) => seen.push(`a: ${r.message}`));
    b.onFrame((f) => seen.push(`b got ${f.type}`));
    b.onClose((r) => seen.push(`b: ${r.message} (${String(r.signal)})`));
    a.send(tell(1));
    await a.close({ message: 'its host process exited with signal SIGKILL', signal: 'SIGKILL' });
    await a.close();
    expect(a.closed).toBe(true);
    a.send(tell(2));
    await flush();
    expect(b.closed).toBe(true);
    expect(seen).toEqual(['a: the transport was closed', 'b got tell', 'b: its host process exited with signal SIGKILL (SIGKILL)']);
  });

  it('a close listener added after the close is told on a microtask; a listener that throws does not stop the others', async () => {
    const [a] = InMemoryTransport.pair({ logger: silent });
    const told: string[] = [];
    a.onClose(() => {
      throw new Error('listener bug');
    });
    a.onClose((r) => told.push(r.message));
    await a.close();
    a.onClose((r) => told.push(`late: ${r.message}`));
    expect(told).toEqual(['the transport was closed']);
    await flush();
    expect(told).toEqual(['the transport was closed', 'late: the transport was closed']);
  });
});

/** Just enough of a ChildProcess for the transport: IPC events, send, disconnect. */
class FakeChild extends EventEmitter {
  connected = true;
  channel: object | null = {};
  pid = 4242;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly sent: unknown[] = [];
  send(message: unknown): boolean {
    this.sent.push(message);
    return true;
  }
  disconnect(): void {
    this.connected = false;
    this.emit('disconnect');
  }
  die(code: number | null, signal: NodeJS.Signals | null): void {
    this.disconnect();
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
  asChild(): ChildProcess {
    return this as unknown as ChildProcess;
  }
}

describe('ChildProcessTransport', () => {
  const closeOf = (transport: ChildProcessTransport): Promise<TransportCloseReason> =>
    new Promise((resolve) => transport.onClose(resolve));

  it('closes with the exit code or signal, though the channel closes first', async () => {
    for (const [code, signal, message] of [
      [3, null, 'its host process exited with code 3'],
      [null, 'SIGSEGV', 'its host process exited with signal SIGSEGV'],
    ] as const) {
      const child = new FakeChild();
      const transport = new ChildProcessTransport(child.asChild(), { logger: silent });
      const closed = closeOf(transport);
      child.die(code, signal);
      await expect(closed).resolves.toEqual({ message, exitCode: code, signal });
    }
  });

  it('a channel closed with no exit status within exitWaitMs closes without one', async () => {
    const clock = new ManualClock();
    const child = new FakeChild();
    const transport = new ChildProcessTransport(child.asChild(), { logger: silent, clock, exitWaitMs: 500 });
    child.disconnect();
    clock.advance(499);
    expect(transport.closed).toBe(false);
    clock.advance(1);
    expect(transport.closeReason).toEqual({ message: 'its host process (pid 4242) closed the IPC channel' });
  });

  it('frames go over the channel (with json serialization one message each, with advanced in batches); a process already gone closes at once; one without IPC is refused', () => {
    const child = new FakeChild();
    const transport = new ChildProcessTransport(child.asChild(), { logger: silent, serialization: 'json' });
    transport.send(tell(1));
    expect(child.sent).toEqual([tell(1)]);
    const batched = new FakeChild();
    const batching = new ChildProcessTransport(batched.asChild(), { logger: silent });
    batching.send(tell(1));
    batching.send(tell(2));
    expect(batched.sent).toEqual([]);
    void batching.close();
    expect(batched.sent).toHaveLength(1);
    const frames: unknown[] = [];
    decodeFrameBatch(batched.sent[0] as Uint8Array, (frame) => frames.push(frame), (error) => frames.push(error));
    expect(frames).toEqual([tell(1), tell(2)]);
    const dead = new FakeChild();
    dead.exitCode = 1;
    expect(new ChildProcessTransport(dead.asChild(), { logger: silent }).closeReason).toMatchObject({ exitCode: 1 });
    const noIpc = new FakeChild();
    noIpc.channel = null;
    expect(() => new ChildProcessTransport(noIpc.asChild())).toThrow(InvalidArgumentError);
  });
});

/** A host router with the probe, exported over one end; the test speaks raw frames on the other. */
function rawExport(highWaterMark = 2) {
  const router = newRouter({ highWaterMark });
  router.registerActor(PROBE, new ProbeActor());
  const [test, far] = InMemoryTransport.pair({ logger: silent });
  const exported = exportActors(router, far, { logger: silent });
  const frames: TransportFrame[] = [];
  test.onFrame((frame) => frames.push(frame));
  const chunks = () => frames.filter((f): f is ChunkFrame => f.type === TransportFrameType.Chunk);
  const stats = () => router.ask(PROBE, ProbeMessage.Stats, null) as Promise<ProbeStats>;
  return { router, test, exported, frames, chunks, stats };
}

describe('exportActors, frame by frame', () => {
  it('sends a stream’s chunks only against credit, and the terminal event whatever the credit', async () => {
    const { router, test, chunks, stats } = rawExport(2);
    test.send({ type: TransportFrameType.Stream, id: 7, to: PROBE, messageType: ProbeMessage.Count, payload: { n: 10 }, credit: 3 });
    await flush(50);
    expect(chunks()).toHaveLength(3);
    // Held at the exporting router's own buffer: 3 sent, 2 buffered, 1 being handed over.
    expect((await stats()).emitted).toBe(6);
    test.send({ type: TransportFrameType.Credit, id: 7, n: 2 });
    await flush(50);
    expect(chunks()).toHaveLength(5);
    test.send({ type: TransportFrameType.Credit, id: 7, n: 5 });
    await flush(50);
    expect(chunks().map((c) => c.event.content ?? c.event.type)).toEqual([...Array.from({ length: 10 }, (_, i) => `t${i}`), 'done']);
    await router.dispose();
  });

  it('the chunk that spends the last of the credit is sent with flush (a batching transport must not hold it); the others are not', async () => {
    const router = newRouter({ highWaterMark: 2 });
    router.registerActor(PROBE, new ProbeActor());
    const [test, far] = InMemoryTransport.pair({ logger: silent });
    const sends: Array<{ type: string; flush: boolean }> = [];
    const send = far.send.bind(far);
    far.send = (frame, options) => {
      sends.push({ type: frame.type, flush: options?.flush === true });
      send(frame, options);
    };
    exportActors(router, far, { logger: silent });
    test.send({ type: TransportFrameType.Stream, id: 3, to: PROBE, messageType: ProbeMessage.Count, payload: { n: 10 }, credit: 3 });
    await flush(50);
    expect(sends.filter((s) => s.type === TransportFrameType.Chunk)).toEqual([
      { type: 'chunk', flush: false },
      { type: 'chunk', flush: false },
      { type: 'chunk', flush: true },
    ]);
    await router.dispose();
  });

  it('the terminal event is sent with flush, the chunks before it with credit left are not', async () => {
    const router = newRouter();
    router.registerActor(PROBE, new ProbeActor());
    const [test, far] = InMemoryTransport.pair({ logger: silent });
    const sends: Array<{ event: string; flush: boolean }> = [];
    const send = far.send.bind(far);
    far.send = (frame, options) => {
      if (frame.type === TransportFrameType.Chunk) sends.push({ event: frame.event.type, flush: options?.flush === true });
      send(frame, options);
    };
    exportActors(router, far, { logger: silent });
    test.send({ type: TransportFrameType.Stream, id: 4, to: PROBE, messageType: ProbeMessage.Count, payload: { n: 3 }, credit: 64 });
    await flush(50);
    expect(sends).toEqual([
      { event: 'token', flush: false },
      { event: 'token', flush: false },
      { event: 'token', flush: false },
      { event: 'done', flush: true },
    ]);
    await router.dispose();
  });

  it('a cancel frame aborts the producer and nothing more is sent', async () => {
    const { router, test, chunks, stats } = rawExport(2);
    test.send({ type: TransportFrameType.Stream, id: 1, to: PROBE, messageType: ProbeMessage.Count, payload: { n: 100 }, credit: 1 });
    await flush(50);
    test.send({ type: TransportFrameType.Cancel, id: 1 });
    await flush(50);
    expect(chunks()).toHaveLength(1);
    expect((await stats()).aborted).toBe(1);
    await router.dispose();
  });

  it('a cancel frame aborts a producer that has not emitted anything yet', async () => {
    const { router, test, chunks, stats } = rawExport(2);
    test.send({ type: TransportFrameType.Stream, id: 2, to: PROBE, messageType: ProbeMessage.Silent, payload: null, credit: 4 });
    await flush(50);
    test.send({ type: TransportFrameType.Cancel, id: 2 });
    await flush(50);
    expect((await stats()).aborted).toBe(1);
    expect(chunks()).toEqual([]);
    await router.dispose();
  });

  it('answers pings, a request for a hello, and refuses actors it does not export', async () => {
    const router = newRouter();
    router.registerActor(PROBE, new ProbeActor());
    router.registerActor('secret/main', new PlainActor());
    const [test, far] = InMemoryTransport.pair({ logger: silent });
    const frames: TransportFrame[] = [];
    test.onFrame((frame) => frames.push(frame));
    exportActors(router, far, { logger: silent, actors: [PROBE] });
    test.send({ type: TransportFrameType.Ping, seq: 5 });
    test.send({ type: TransportFrameType.Hello });
    test.send({ type: TransportFrameType.Ask, id: 1, to: 'secret/main', messageType: 'x', payload: null });
    await flush(50);
    expect(frames.map((f) => f.type)).toEqual(['hello', 'pong', 'hello', 'fail']);
    expect(frames[0]).toMatchObject({ actors: [{ id: PROBE, protocol: { kind: 'probe' } }] });
    expect(frames[3]).toMatchObject({ error: { code: ErrorCode.ActorNotFound, name: 'ActorNotFoundError' } });
    await router.dispose();
  });

  it('refresh() sends a new hello only when the actors changed; watchMs does it on its own', async () => {
    const clock = new ManualClock();
    const router = newRouter();
    const [test, far] = InMemoryTransport.pair({ logger: silent });
    const hellos: TransportFrame[] = [];
    test.onFrame((frame) => frame.type === TransportFrameType.Hello && hellos.push(frame));
    const exported = exportActors(router, far, { logger: silent, clock, watchMs: 1_000 });
    exported.refresh();
    router.registerActor('plain/a', new PlainActor());
    clock.advance(1_000);
    await flush();
    expect(hellos).toEqual([
      { type: 'hello', actors: [] },
      { type: 'hello', actors: [{ id: 'plain/a', protocol: null }] },
    ]);
    expect(exported.actors).toEqual([{ id: 'plain/a', protocol: null }]);
    await exported.dispose();
    await router.dispose();
  });
});

/** A host router exported over an InMemoryTransport and a peer on the other end. */
function peered() {
  const host = newRouter();
  host.registerActor(PROBE, new ProbeActor());
  const [near, far] = InMemoryTransport.pair({ logger: silent });
  const exported = exportActors(host, far, { logger: silent });
  const clock = new ManualClock();
  const peer = new TransportPeer(near, { logger: silent, clock });
  const stats = () => host.ask(PROBE, ProbeMessage.Stats, null) as Promise<ProbeStats>;
  return { host, near, exported, peer, clock, stats };
}

describe('TransportPeer', () => {
  it('dispose fails the calls in flight with DISPOSED, cancels them over there, closes the transport and tells no lost listener', async () => {
    const { host, near, peer, stats } = peered();
    const lost: unknown[] = [];
    peer.onLost((e) => lost.push(e));
    const ask = peer.ask(PROBE, ProbeMessage.Hang, null).catch((e: unknown) => e);
    await flush(20);
    expect((await stats()).hanging).toBe(1);
    await peer.dispose();
    await peer.dispose();
    expect(await ask).toBeInstanceOf(DisposedError);
    expect(near.closed).toBe(true);
    await flush(20);
    expect(await stats()).toMatchObject({ hanging: 0, aborted: 1 });
    expect(lost).toEqual([]);
    await expect(peer.ask(PROBE, ProbeMessage.Echo, 1)).rejects.toBeInstanceOf(DisposedError);
    await host.dispose();
  });

  it('its own timeout fails an ask with TIMEOUT and cancels the handler', async () => {
    const { host, peer, clock, stats } = peered();
    const ask = peer.ask(PROBE, ProbeMessage.Hang, null, { timeout: 100 }).catch((e: unknown) => e);
    await flush(20);
    clock.advance(100);
    expect(await ask).toMatchObject({ message: 'ask hang to @(probe/main) timed out after 100 ms' });
    expect(await ask).toBeInstanceOf(TimeoutError);
    await flush(20);
    expect((await stats()).aborted).toBe(1);
    await peer.dispose();
    await host.dispose();
  });

  it('a consumer that throws ends the stream with CONSUMER_FAILED (delivered to it) and cancels the producer', async () => {
    const { host, peer, stats } = peered();
    const seen: string[] = [];
    const end = await peer.stream(PROBE, ProbeMessage.Count, { n: 1_000 }, (event) => {
      seen.push(event.type === 'token' ? String(event.content) : `${event.type} ${String(event.code)}`);
      if (event.content === 't2') throw new Error('consumer bug');
    });
    expect(seen).toEqual(['t0', 't1', 't2', 'error CONSUMER_FAILED']);
    expect(end.error).toMatchObject({ code: ErrorCode.ConsumerFailed });
    await flush(20);
    expect((await stats()).aborted).toBe(1);
    await peer.dispose();
    await host.dispose();
  });

  it('grants credit in batches of half the window as onChunk resolves', async () => {
    const { host, near, peer } = peered();
    const credits: number[] = [];
    const send = near.send.bind(near);
    near.send = (frame) => {
      if (frame.type === TransportFrameType.Credit) credits.push(frame.n);
      send(frame);
    };
    await peer.stream(PROBE, ProbeMessage.Count, { n: 9 }, () => {}, { highWaterMark: 4 });
    expect(credits).toEqual([2, 2, 2, 2]);
    await peer.dispose();
    await host.dispose();
  });

  it('actors() waits for the hello, and rejects with ACTOR_HOST_LOST when the other side goes first; onLost after the loss is still told', async () => {
    const [near, far] = InMemoryTransport.pair({ logger: silent });
    const peer = new TransportPeer(near, { logger: silent });
    const actors = peer.actors();
    await far.close({ message: 'its host process exited with code 1', exitCode: 1 });
    await expect(actors).rejects.toBeInstanceOf(ActorHostLostError);
    await expect(actors).rejects.toMatchObject({ message: 'actor host lost: its host process exited with code 1', exitCode: 1 });
    const late: string[] = [];
    peer.onLost((e) => late.push(e.message));
    await flush();
    expect(late).toEqual(['actor host lost: its host process exited with code 1']);
    expect(peer.tell(PROBE, ProbeMessage.Record, 1)).toBe(false);
    await peer.dispose();
  });

  it('a side that has not spoken yet is starting, not silent: heartbeats count from its first frame', async () => {
    const clock = new ManualClock();
    const [near, far] = InMemoryTransport.pair();
    const peer = new TransportPeer(near, { logger: silent, clock, heartbeatMs: 100, heartbeatTimeoutMs: 500 });
    // A child still loading its modules answers nothing for a while: no loss however long.
    for (let i = 0; i < 50; i++) clock.advance(100);
    expect(peer.lost).toBe(false);
    // It speaks (its hello), then goes silent: lost after the timeout.
    far.send({ type: TransportFrameType.Hello, actors: [] });
    await flush();
    for (let i = 0; i < 4; i++) clock.advance(100);
    expect(peer.lost).toBe(false);
    clock.advance(100);
    expect(peer.lost).toBe(true);
    await peer.dispose();
  });

  it('ping() measures a round trip; options are checked', async () => {
    const { host, peer } = peered();
    await expect(peer.ping()).resolves.toBe(0); // the manual clock did not move
    expect(() => new TransportPeer(InMemoryTransport.pair()[0], { heartbeatMs: -1 })).toThrow(
      'heartbeatMs must be a positive number of ms or Infinity, got -1',
    );
    await peer.dispose();
    await host.dispose();
  });
});

describe('connectActors', () => {
  it('follows later hellos: new actors get a proxy, vanished ones lose theirs; dispose unregisters them all', async () => {
    const { host, exported, peer } = peered();
    const router = newRouter();
    const remote = await connectActors(router, peer, { actors: (id) => id !== 'hidden/main' });
    expect(remote.addresses).toEqual(['@(probe/main)']);
    host.registerActor('plain/new', new PlainActor());
    host.registerActor('hidden/main', new PlainActor());
    exported.refresh();
    await flush(20);
    expect(remote.addresses).toEqual(['@(probe/main)', '@(plain/new)']);
    await expect(router.ask('plain/new', 'hi', 1)).resolves.toEqual({ plain: 1 });
    await host.unregisterActor('plain/new');
    exported.refresh();
    await flush(50);
    expect(router.has('plain/new')).toBe(false);
    await remote.dispose();
    expect(router.actors()).toEqual([]);
    await peer.dispose();
    await host.dispose();
    await router.dispose();
  });

  it('an id taken locally refuses the whole connection, leaving nothing registered', async () => {
    const { host, exported, peer } = peered();
    host.registerActor('plain/b', new PlainActor());
    exported.refresh();
    await flush(20);
    const router = newRouter();
    router.registerActor('plain/b', new FnActor());
    await expect(connectActors(router, peer)).rejects.toBeInstanceOf(ActorAlreadyRegisteredError);
    expect(router.actors()).toEqual(['@(plain/b)']);
    await peer.dispose();
    await host.dispose();
    await router.dispose();
  });
});
