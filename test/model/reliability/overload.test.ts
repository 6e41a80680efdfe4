import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage } from '../../../src/index.js';
import { postJson, startTestServer, type TestServer } from './testServer.js';

/**
 * Overload (issue 11): with S slots and a queue of Q, S + Q + K requests at once on a route give
 * exactly K refusals (503, `Retry-After`, QUEUE_FULL) and Q answers, and afterwards nothing is
 * held. Deterministic without timing: the S slots are held by in-process generations whose
 * consumer stopped reading (backpressure parks their producer until they are cancelled), the
 * queue is watched through the model's status, and the slots are released by hand.
 */
const S = 1;
const Q = 2;
const K = 3;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ slots: S, maxQueue: Q });
  await server.models.ensureTuner('tiny');
  for (let i = 0; i < Q + K; i++) await server.sessions.create({ id: `overload-${i}`, model: 'tiny' });
});
afterAll(async () => {
  await server?.dispose();
});

/**
 * Takes every slot with a generation whose stream is read once and then left: with a buffer of
 * one event its producer waits in `onChunk`, holding its slot. Returns the release.
 */
async function holdSlots(): Promise<() => Promise<void>> {
  const streams = Array.from({ length: S }, () =>
    server.router.stream('model/tiny', ModelMessage.Generate, { prompt: 'hold the slot', params: { maxTokens: 400 } }, { highWaterMark: 1 }),
  );
  const readers = streams.map((stream) => stream[Symbol.asyncIterator]());
  await Promise.all(readers.map((reader) => reader.next()));
  await expect.poll(async () => (await server.status()).busySlots).toBe(S);
  return async () => {
    for (const stream of streams) stream.cancel();
    await Promise.all(readers.map((reader) => reader.return?.()));
  };
}

const examples = [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }];
const chat = { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 };

/** Each route as one request `i` of the burst (sessions get one each: a session takes one turn at a time). */
const ROUTES: Array<[string, (i: number) => [string, unknown]]> = [
  ['chat', () => ['/v1/chat/completions', chat]],
  ['chat, streaming', () => ['/v1/chat/completions', { ...chat, stream: true }]],
  ['completion', () => ['/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 2 }]],
  ['completion, streaming', () => ['/v1/completions', { model: 'tiny', prompt: 'x', max_tokens: 2, stream: true }]],
  ['actor ask', () => ['/actors/model/tiny/ask', { type: 'generate', payload: { prompt: 'x', params: { maxTokens: 2 } } }]],
  ['actor stream', () => ['/actors/model/tiny/stream', { type: 'generate', payload: { prompt: 'x', params: { maxTokens: 2 } } }]],
  ['session turn', (i) => [`/sessions/overload-${i}/messages`, { message: 'x', params: { maxTokens: 2 }, stream: false }]],
  ['session turn, streaming', (i) => [`/sessions/overload-${i}/messages`, { message: 'x', params: { maxTokens: 2 } }]],
  ['evaluation', () => ['/models/tiny/evaluate', { examples, stream: false }]],
  ['evaluation, streaming', () => ['/models/tiny/evaluate', { examples }]],
];

interface Outcome {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  body: string;
}

async function send(path: string, body: unknown): Promise<Outcome> {
  const response = await postJson(`${server.url}${path}`, body);
  const text = await response.text(); // a 200 stream is read to its end
  const code = response.headers.get('content-type')?.includes('application/json') ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code, body: text };
}

describe('overload', () => {
  it.each(ROUTES)('%s: of S + Q + K requests at once, exactly K get 503 QUEUE_FULL with Retry-After; the rest complete', async (_name, request) => {
    const release = await holdSlots();
    const answered: Outcome[] = [];
    const burst = Array.from({ length: Q + K }, (_, i) =>
      send(...request(i)).then((outcome) => {
        answered.push(outcome);
        return outcome;
      }),
    );
    let released = false;
    try {
      // With the slots held, only the refusals can answer; the queued requests wait for a slot.
      await expect.poll(() => answered.length, { timeout: 20_000 }).toBe(K);
      await expect.poll(async () => (await server.status()).queueDepth).toBe(Q);
      expect(answered.map((o) => [o.status, o.retryAfter, o.code])).toEqual(Array.from({ length: K }, () => [503, '1', expect.stringMatching(/^(QUEUE_FULL|MAILBOX_FULL)$/)]));
      await release();
      released = true;
      const outcomes = await Promise.all(burst);
      const completed = outcomes.filter((o) => o.status === 200);
      expect(completed, JSON.stringify(outcomes).slice(0, 2_000)).toHaveLength(Q);
      expect(outcomes.filter((o) => o.status === 503)).toHaveLength(K);
      // A queued stream that got its slot is a whole stream, not one that ends in an error event.
      for (const { body } of completed) expect(body).not.toMatch(/event: error|"error":\{/);
    } finally {
      // A failed check must not leave the slots held for the routes after it.
      if (!released) await release();
      await Promise.allSettled(burst);
    }
    await expect.poll(async () => (await server.status()).busySlots).toBe(0);
    expect((await server.status()).queueDepth).toBe(0);
  });
});
