import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AbortedError,
  ActorFailedError,
  ActorNotFoundError,
  ErrorCode,
  InvalidArgumentError,
  Lane,
  type MessageSpec,
  StreamNotSupportedError,
  TimeoutError,
  type TokenStreamEvent,
  UnsupportedMessageError,
} from '../../src/index.js';
import { ActorHostLostError, TransportErrorCode } from '../../src/messaging/transport/ActorHostLostError.js';
import { PLAIN, PROBE, ProbeMessage, probeProtocol, QuotaError } from './helpers/transportActors.js';
import { eventually, HWM, probeStats, SETUPS, type Setup, settled } from './helpers/transportSetups.js';

/**
 * The router's contract (ask, tell, typed errors, timeouts, abort, streams, cancel, backpressure),
 * run as one suite three ways: on the probe actors in the caller's own router, on proxies of them
 * over an InMemoryTransport, and on proxies of them in a real child process. What differs by design
 * (payloads must be plain data, a host can be lost) is tested for the remote ways only.
 */

const kinds = (events: TokenStreamEvent[]) => events.map((e) => (e.type === 'token' ? e.content : e.type));
const terminals = (events: TokenStreamEvent[]) => events.filter((e) => e.type === 'done' || e.type === 'error');

describe.each(SETUPS)('the router contract, $name', ({ name, make }) => {
  let setup: Setup;
  const local = name === 'in process';

  beforeEach(async () => {
    setup = await make();
  });
  afterEach(async () => {
    await setup.dispose();
  });

  describe('ask and tell', () => {
    it('an ask resolves with the reply, its scope delivered', async () => {
      const probe = setup.router.ref(PROBE, probeProtocol);
      await expect(probe.ask(ProbeMessage.Echo, { n: 1 }, { scope: 'tab-1' })).resolves.toEqual({ echoed: { n: 1 }, scope: 'tab-1' });
      await expect(setup.router.ask(PROBE, ProbeMessage.Echo, [1, 'two', null])).resolves.toEqual({ echoed: [1, 'two', null], scope: null });
    });

    it('an actor without a protocol takes any message type, and streams', async () => {
      await expect(setup.router.ask(PLAIN, 'anything', 7)).resolves.toEqual({ plain: 7 });
      await expect(setup.router.stream(PLAIN, 'whatever', 'x').collect()).resolves.toBe('x');
    });

    it('tells arrive, in the order sent', async () => {
      for (const item of ['a', 'b', 'c']) expect(setup.router.tell(PROBE, ProbeMessage.Record, item)).toBe(true);
      const log = await eventually(() => setup.router.ask(PROBE, ProbeMessage.Log, null), (l) => (l as unknown[]).length === 3, 'the log');
      expect(log).toEqual(['a', 'b', 'c']);
    });

    it('typed errors keep their class, code, kind and fields; anything else is ACTOR_FAILED with its cause', async () => {
      const quota = await setup.router.ask(PROBE, ProbeMessage.Fail, 'quota').catch((e: unknown) => e);
      expect(quota).toBeInstanceOf(QuotaError);
      expect(quota).toMatchObject({ code: 'QUOTA', kind: 'overloaded', used: 11, limit: 10, message: 'quota exceeded: 11 requests, limit 10' });
      const crash = await setup.router.ask(PROBE, ProbeMessage.Fail, 'crash').catch((e: unknown) => e);
      expect(crash).toBeInstanceOf(ActorFailedError);
      expect(crash).toMatchObject({ code: ErrorCode.ActorFailed, actorId: PROBE, message: 'actor @(probe/main) failed: boom' });
      expect((crash as Error).cause).toBeInstanceOf(Error);
      expect((crash as Error).cause).toMatchObject({ message: 'boom' });
    });

    it('routing errors are the same typed errors', async () => {
      await expect(setup.router.ask(PROBE, 'dance', null)).rejects.toBeInstanceOf(UnsupportedMessageError);
      await expect(setup.router.ask('ghost/main', ProbeMessage.Echo, null)).rejects.toBeInstanceOf(ActorNotFoundError);
    });

    it('a timeout answers the caller with TIMEOUT and fires the handler’s signal', async () => {
      const reply = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: 50 }).catch((e: unknown) => e);
      await eventually(() => probeStats(setup.router), (s) => s.hanging === 1, 'the hang handler running');
      setup.clock.advance(49);
      await eventually(() => probeStats(setup.router), (s) => s.hanging === 1, 'still running at 49 ms');
      setup.clock.advance(1);
      const error = await reply;
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).toMatchObject({ message: 'ask hang to @(probe/main) timed out after 50 ms', timeoutMs: 50 });
      await eventually(() => probeStats(setup.router), (s) => s.aborted === 1 && s.hanging === 0, 'the handler aborted');
    });

    it('an aborted signal: rejected at once, before the actor sees it', async () => {
      const error = await setup.router.ask(PROBE, ProbeMessage.Hang, null, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AbortedError);
      expect(await probeStats(setup.router)).toMatchObject({ hanging: 0, aborted: 0 });
    });

    it('an abort during the ask answers at once and fires the handler’s signal', async () => {
      const controller = new AbortController();
      const reply = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity, signal: controller.signal }).catch((e: unknown) => e);
      await eventually(() => probeStats(setup.router), (s) => s.hanging === 1, 'the hang handler running');
      controller.abort(new Error('user left'));
      expect(await reply).toMatchObject({ code: ErrorCode.Aborted, message: 'ask hang to @(probe/main) was aborted' });
      await eventually(() => probeStats(setup.router), (s) => s.aborted === 1 && s.hanging === 0, 'the handler aborted');
    });
  });

  describe('streams', () => {
    it('events arrive in order, then exactly one done with the producer’s metadata', async () => {
      const events: TokenStreamEvent[] = [];
      const result = await setup.router.streamAsk(PROBE, ProbeMessage.Words, 'the quick fox', { onChunk: (e) => void events.push(e) });
      expect(kinds(events)).toEqual(['the', 'quick', 'fox', 'done']);
      expect(events.every((e) => typeof e.timestamp === 'number')).toBe(true);
      expect(result).toMatchObject({ text: 'thequickfox', tokenCount: 3, finishReason: 'length', usage: { totalTokens: 4 }, data: { words: 3 } });
      const texts: string[] = [];
      for await (const text of setup.router.ref(PROBE, probeProtocol).stream(ProbeMessage.Words, 'a b').text) texts.push(text);
      expect(texts).toEqual(['a', 'b']);
    });

    it('a stream that fails ends with one error event, and its error keeps its class', async () => {
      const events: TokenStreamEvent[] = [];
      const result = await setup.router.streamAsk(PROBE, ProbeMessage.FailStream, null, { onChunk: (e) => void events.push(e) });
      expect(kinds(events)).toEqual(['one', 'error']);
      expect(events[1]).toMatchObject({ code: 'QUOTA', kind: 'overloaded', error: 'quota exceeded: 12 requests, limit 10' });
      expect(result.error).toBeInstanceOf(QuotaError);
      await expect(setup.router.stream(PROBE, ProbeMessage.FailStream, null).collect()).rejects.toBeInstanceOf(QuotaError);
    });

    it('a message type that does not stream is refused before any event', async () => {
      const stream = setup.router.stream(PROBE, ProbeMessage.Echo, null);
      await expect(stream[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(StreamNotSupportedError);
    });

    it('cancel mid-stream: one ABORTED terminal event, and the producer’s signal fires', async () => {
      const stream = setup.router.stream(PROBE, ProbeMessage.Count, { n: 2_000 }, { highWaterMark: HWM });
      const seen: TokenStreamEvent[] = [];
      for await (const event of stream) {
        seen.push(event);
        if (seen.length === 2) stream.cancel();
      }
      expect(terminals(seen)).toHaveLength(1);
      expect(seen.at(-1)).toMatchObject({ type: 'error', code: ErrorCode.Aborted });
      expect(seen.length).toBeLessThan(20);
      await eventually(() => probeStats(setup.router), (s) => s.aborted === 1, 'the producer aborted');
    });

    it('an abort through the signal ends the stream the same way', async () => {
      const controller = new AbortController();
      const events: TokenStreamEvent[] = [];
      const result = await setup.router.streamAsk(PROBE, ProbeMessage.Count, { n: 2_000 }, {
        highWaterMark: HWM,
        signal: controller.signal,
        onChunk: (e) => {
          events.push(e);
          if (events.length === 3) controller.abort();
        },
      });
      expect(terminals(events)).toHaveLength(1);
      expect(result.error).toBeInstanceOf(AbortedError);
      await eventually(() => probeStats(setup.router), (s) => s.aborted === 1, 'the producer aborted');
    });

    it('backpressure: a consumer that reads one event and stalls stops a 2,000-event producer after a bounded number', async () => {
      const stream = setup.router.stream(PROBE, ProbeMessage.Count, { n: 2_000 }, { highWaterMark: HWM });
      const events = stream[Symbol.asyncIterator]();
      await events.next();
      const stalled = await settled(() => probeStats(setup.router));
      // In process: the consumer's buffer (HWM) and the event being handed over. Remote, add the
      // credit window (HWM) and the host router's own buffer (HWM): nothing grows with the stream.
      const bound = local ? HWM + 2 : 3 * HWM + 4;
      expect(stalled.emitted).toBeLessThanOrEqual(bound);
      expect(stalled.emitted).toBeGreaterThan(HWM);
      let count = 1;
      for (let step = await events.next(); !step.done; step = await events.next()) count++;
      expect(count).toBe(2_001);
      expect(await probeStats(setup.router)).toMatchObject({ emitted: 2_000, resolved: 2_000 });
    });
  });

  describe.skipIf(local)('across a transport', () => {
    it('proxies declare the remote protocol with every lane concurrent', () => {
      const protocol = setup.router.protocolOf(PROBE);
      expect(protocol?.kind).toBe('probe');
      const specs: Readonly<Record<string, MessageSpec>> = protocol?.messages ?? {};
      expect(Object.keys(specs)).toEqual(Object.keys(probeProtocol.messages));
      expect(Object.values(specs).every((spec) => spec.lane === Lane.Concurrent)).toBe(true);
      expect(specs).toMatchObject({ echo: { exposed: true }, words: { stream: true, paths: ['file'] } });
      expect(setup.router.protocolOf(PLAIN)).toBeUndefined();
    });

    it('a payload or a reply that is not plain data fails loudly, naming why', async () => {
      const sent = await setup.router.ask(PROBE, ProbeMessage.Echo, { call: () => 1 }).catch((e: unknown) => e);
      expect(sent).toBeInstanceOf(InvalidArgumentError);
      expect((sent as Error).message).toMatch(/^ask echo to @\(probe\/main\): the payload cannot cross the transport/);
      const replied = await setup.router.ask(PROBE, ProbeMessage.Unclonable, null).catch((e: unknown) => e);
      expect(replied).toBeInstanceOf(ActorFailedError);
      expect((replied as Error).message).toMatch(/^actor @\(probe\/main\) failed: its reply to unclonable cannot cross the transport/);
      await expect(setup.router.ask(PROBE, ProbeMessage.Echo, 'still fine')).resolves.toMatchObject({ echoed: 'still fine' });
    });

    it('closing the transport fails every ask and stream in flight with ACTOR_HOST_LOST, and later calls at once', async () => {
      const remote = setup.remote!;
      const ask = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity }).catch((e: unknown) => e);
      const stream = setup.router.stream(PROBE, ProbeMessage.Count, { n: 2_000 }, { highWaterMark: HWM });
      const events = stream[Symbol.asyncIterator]();
      await events.next();
      await eventually(() => probeStats(setup.router), (s) => s.hanging === 1, 'the hang handler running');
      const lost: ActorHostLostError[] = [];
      remote.peer.onLost((error) => lost.push(error));
      await remote.transport.close();
      const error = await ask;
      expect(error).toBeInstanceOf(ActorHostLostError);
      expect(error).toMatchObject({ code: TransportErrorCode.ActorHostLost, kind: 'unavailable', message: 'actor probe/main lost: the transport was closed' });
      const rest: TokenStreamEvent[] = [];
      for (let step = await events.next(); !step.done; step = await events.next()) rest.push(step.value);
      expect(terminals(rest)).toEqual([expect.objectContaining({ type: 'error', code: TransportErrorCode.ActorHostLost })]);
      await expect(stream).rejects.toBeInstanceOf(ActorHostLostError);
      expect(lost.map((e) => e.message)).toEqual(['actor host lost: the transport was closed']);
      await expect(setup.router.ask(PROBE, ProbeMessage.Echo, 1)).rejects.toBeInstanceOf(ActorHostLostError);
      await expect(setup.router.stream(PROBE, ProbeMessage.Words, 'a').collect()).rejects.toBeInstanceOf(ActorHostLostError);
    });

    it('heartbeats: a live host answers every ping, so nothing is lost however long an ask runs', async () => {
      const remote = setup.remote!;
      const ask = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity });
      let settledWith: unknown;
      ask.then((v) => (settledWith = v), (e: unknown) => (settledWith = e));
      for (let round = 1; round <= 12; round++) {
        setup.clock.advance(1_000);
        // Nothing else crosses meanwhile: the pong alone is what keeps the host alive.
        await eventually(async () => remote.pongs(), (n) => n === round, `pong ${round}`);
      }
      expect(remote.peer.lost).toBe(false);
      expect(settledWith).toBeUndefined();
    });

    it('heartbeats: a host that stops answering is lost after heartbeatTimeoutMs, failing the ask in flight', async () => {
      const remote = setup.remote!;
      const ask = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity }).catch((e: unknown) => e);
      await eventually(() => probeStats(setup.router), (s) => s.hanging === 1, 'the hang handler running');
      await remote.stall();
      for (let i = 0; i < 4; i++) setup.clock.advance(1_000);
      expect(remote.peer.lost).toBe(false);
      setup.clock.advance(1_000);
      expect(remote.peer.lost).toBe(true);
      const error = await ask;
      expect(error).toBeInstanceOf(ActorHostLostError);
      expect((error as Error).message).toBe('actor probe/main lost: its host answered no heartbeat for 5000 ms');
      expect(remote.transport.closed).toBe(true);
    });
  });
});
