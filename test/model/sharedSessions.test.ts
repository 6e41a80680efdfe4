/**
 * Two front ends continuing one session through one NATS KV store (issue 16, shared state): each
 * front end is its own router with its own model and SessionManager over its own NatsKvStore on
 * one bucket of a real nats-server with JetStream, as two `serve` processes would be. Turns sent
 * through either in sequence all land, in order; of two overlapping turns, the first to finish is
 * saved and the other fails with SESSION_CONFLICT, changing nothing, and lands when sent again.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type Address,
  address,
  createServer,
  type InferenceResult,
  LocalLlamaProvider,
  MessageRouter,
  ModelManager,
  NatsKvStore,
  SessionConflictError,
  SessionManager,
  SessionMessage,
  sessionProtocol,
  StreamEventType,
} from '../../src/index.js';
import { NatsServer } from '../standalone/helpers/natsServer.js';
import { getTestLlama } from './llama.js';

let llama: Llama;
let tinyPath: string;
let nats: NatsServer;
const cleanups: Array<() => Promise<unknown>> = [];
let buckets = 0;

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
  nats = await NatsServer.start(undefined, { jetStream: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await nats?.stop({ removeStore: true });
});

/** One front end: its own connection, store, router, model and sessions, over the shared bucket. */
async function frontEnd(bucket: string) {
  const connection: NatsConnection = await connect({ servers: nats.url });
  const store = new NatsKvStore({ connection, bucket });
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
  await models.publishProvider({ id: 'local', kind: 'local-llama' });
  await models.publishModel({ id: 'tiny', provider: address('local'), path: tinyPath, load: { slots: 2, threads: 1, contextSize: 1024 } });
  const sessions = new SessionManager({ router, store, models });
  cleanups.push(
    () => connection.close(),
    () => store.dispose(),
    () => router.dispose(),
  );
  return { router, models, sessions, store };
}

async function twoFrontEnds() {
  const bucket = `shared-sessions-${++buckets}`;
  return [await frontEnd(bucket), await frontEnd(bucket)] as const;
}

const turn = (router: MessageRouter, session: Address, message: string) =>
  router.ref(session, sessionProtocol).ask(SessionMessage.Inference, { message, params: { maxTokens: 6, temperature: 0 } });

/** The user messages of a session's history, as a front end reads it. */
async function userTurns(router: MessageRouter, session: Address): Promise<string[]> {
  const history = await router.ref(session, sessionProtocol).ask(SessionMessage.History, null);
  return history.turns.filter((t) => t.role === 'user').map((t) => t.content);
}

describe('one session continued by two front ends over one NatsKvStore', () => {
  it('turns through either front end in sequence all land, in order, each after the one before', async () => {
    const [a, b] = await twoFrontEnds();
    const onA = await a.sessions.create({ id: 'shared-chat', model: 'tiny', systemPrompt: 'Be brief.' });
    const onB = await b.sessions.load('shared-chat');
    const replies: InferenceResult[] = [];
    for (const [i, [front, session]] of ([[a, onA], [b, onB], [a, onA], [b, onB]] as const).entries()) {
      replies.push(await turn(front.router, session, `message ${i + 1}`));
    }
    const expected = ['message 1', 'message 2', 'message 3', 'message 4'];
    expect(await userTurns(a.router, onA)).toEqual(expected);
    expect(await userTurns(b.router, onB)).toEqual(expected);
    const stored = await b.sessions.get('shared-chat');
    expect(stored.turns.map((t) => t.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(stored.turns.filter((t) => t.role === 'assistant').map((t) => t.content)).toEqual(replies.map((r) => r.text));
    expect((await a.sessions.list()).map((s) => [s.id, s.turns])).toEqual([['shared-chat', 8]]);
  });

  it('over HTTP: a session created on one server is continued on the other, every turn stored in order', async () => {
    const fronts = await twoFrontEnds();
    const [urlA, urlB] = await Promise.all(
      fronts.map(async ({ router, models, sessions, store }) => {
        const server = createServer({ router, models, sessions, store, port: 0 });
        cleanups.push(() => server.close());
        return server.listen();
      }),
    );
    const post = async (url: string, path: string, body: unknown) => {
      const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await post(urlA!, '/sessions', { id: 'http-chat', model: 'tiny' })).status).toBe(201);
    for (const [i, url] of [urlB, urlA, urlB].entries()) {
      const answer = await post(url!, '/sessions/http-chat/messages', { message: `turn ${i + 1}`, stream: false, params: { maxTokens: 4, temperature: 0 } });
      expect(answer.status).toBe(200);
    }
    const seen = (await (await fetch(`${urlA}/sessions/http-chat`)).json()) as { turns: { role: string; content: string }[] };
    expect(seen.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['turn 1', 'turn 2', 'turn 3']);
    expect(await (await fetch(`${urlB}/sessions/http-chat`)).json()).toEqual(seen);
  });

  it('two front ends creating one session id at once: one creates it, the other gets ENTITY_EXISTS and replaces nothing', async () => {
    const [a, b] = await twoFrontEnds();
    const results = await Promise.allSettled([
      a.sessions.create({ id: 'taken', model: 'tiny', systemPrompt: 'from A' }),
      b.sessions.create({ id: 'taken', model: 'tiny', systemPrompt: 'from B' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect(rejected.reason).toMatchObject({ code: 'ENTITY_EXISTS' });
    const winner = results[0]!.status === 'fulfilled' ? 'from A' : 'from B';
    expect((await a.sessions.get('taken')).systemPrompt).toBe(winner);
    expect((await b.sessions.get('taken')).systemPrompt).toBe(winner);
  });

  it('two overlapping turns: the first to finish is saved, the other ends with SESSION_CONFLICT and lands when sent again', async () => {
    const [a, b] = await twoFrontEnds();
    const onA = await a.sessions.create({ id: 'raced-chat', model: 'tiny' });
    const onB = await b.sessions.load('raced-chat');
    await turn(a.router, onA, 'first');
    const request = (message: string) => ({ message, params: { maxTokens: 8, temperature: 0 } });
    // highWaterMark 1: a turn cannot run to its end (and save) before its consumer reads it, so
    // both turns have loaded the session at the same revision before either saves.
    const fromA = a.router.ref(onA, sessionProtocol).stream(SessionMessage.Inference, request('from A'), { highWaterMark: 1 })[Symbol.asyncIterator]();
    const fromB = b.router.ref(onB, sessionProtocol).stream(SessionMessage.Inference, request('from B'), { highWaterMark: 1 })[Symbol.asyncIterator]();
    expect((await fromA.next()).value).toMatchObject({ type: StreamEventType.Token });
    expect((await fromB.next()).value).toMatchObject({ type: StreamEventType.Token });
    const rest = async <E,>(iterator: AsyncIterator<E>): Promise<E[]> => {
      const events: E[] = [];
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) events.push(next.value);
      return events;
    };
    const eventsA = await rest(fromA);
    const eventsB = await rest(fromB);
    expect(eventsA.at(-1)).toMatchObject({ type: StreamEventType.Done });
    const last = eventsB.at(-1);
    expect(last).toMatchObject({ type: StreamEventType.Error, code: 'SESSION_CONFLICT' });
    expect(last?.error).toMatch(/^session raced-chat changed in the store while this turn ran \(started at revision \d+, found revision \d+\): the turn was not saved; send it again$/);
    expect(await userTurns(b.router, onB)).toEqual(['first', 'from A']);

    // A turn whose consumer waits, on its first token, for a whole turn through the other front
    // end: it ends with the error's class, and nothing of it is saved.
    let first = true;
    const { error: waited } = await b.router
      .ref(onB, sessionProtocol)
      .streamAsk(SessionMessage.Inference, request('from B'), {
        highWaterMark: 1,
        onChunk: async () => {
          if (first) await turn(a.router, onA, 'from A again');
          first = false;
        },
      });
    expect(waited).toBeInstanceOf(SessionConflictError);
    expect(waited).toMatchObject({ code: 'SESSION_CONFLICT', kind: 'conflict', sessionId: 'raced-chat' });
    expect(await userTurns(a.router, onA)).toEqual(['first', 'from A', 'from A again']);

    // Sent again with nothing overlapping, it lands after the others.
    await turn(b.router, onB, 'from B');
    expect(await userTurns(a.router, onA)).toEqual(['first', 'from A', 'from A again', 'from B']);
  });
});
