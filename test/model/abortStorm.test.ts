import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage, type TokenStreamEvent } from '../../src/index.js';
import { startTestServer, type TestServer, chatStillServes } from './helpers/testServer.js';
import { mulberry32 } from '../../src/messaging/mulberry32.js';

/**
 * The abort storm of issue 11: clients that leave at every moment of every streaming route, over
 * HTTP and in process, seeded (`STORM_SEED`) and bounded in count and time. Afterwards nothing may
 * be held: every slot free, nothing queued, no connection open, memory back within a bound, and a
 * normal request served.
 */
const SEED = Number(process.env.STORM_SEED ?? 11);
const HTTP_OPERATIONS = Number(process.env.STORM_HTTP ?? 120);
const IN_PROCESS_OPERATIONS = Number(process.env.STORM_IN_PROCESS ?? 300);
/** Stops starting new operations after this long, whatever the counts say. */
const BUDGET_MS = 25_000;

const ROUTES: Array<[string, (maxTokens: number) => unknown]> = [
  ['/v1/chat/completions', (n) => ({ model: 'tiny', messages: [{ role: 'user', content: 'go on' }], max_tokens: n, stream: true })],
  ['/v1/completions', (n) => ({ model: 'tiny', prompt: 'go on', max_tokens: n, stream: true })],
  ['/actors/model/tiny/stream', (n) => ({ type: 'generate', payload: { prompt: 'go on', params: { maxTokens: n } } })],
  ['/sessions/storm/messages', (n) => ({ message: 'go on', params: { maxTokens: n } })],
  ['/models/tiny/evaluate', () => ({ examples: [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b c d' }] }] })],
];
const MOMENTS = ['partial-request', 'before-first-byte', 'mid-stream', 'at-end'] as const;
type Moment = (typeof MOMENTS)[number];

/** One HTTP client that leaves at `moment`; resolves when its socket is gone. */
function leave(port: number, path: string, body: unknown, moment: Moment, random: () => number): Promise<void> {
  const text = JSON.stringify(body);
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n`;
  const chunksBeforeLeaving = 1 + Math.floor(random() * 5);
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      if (moment === 'partial-request') {
        socket.write(head + text.slice(0, Math.floor(random() * text.length)));
        setTimeout(() => socket.destroy(), Math.floor(random() * 20));
        return;
      }
      socket.write(head + text);
      if (moment === 'before-first-byte') setTimeout(() => socket.destroy(), Math.floor(random() * 3));
    });
    let seen = 0;
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      seen++;
      const ended = /event: (done|error)|\[DONE\]/.test(received) || !received.includes('text/event-stream');
      if ((moment === 'mid-stream' && seen >= chunksBeforeLeaving) || (moment === 'at-end' && ended)) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    // A client never waits long: whatever happened, it leaves.
    setTimeout(() => socket.destroy(), 5_000);
  });
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ slots: 2, maxQueue: 8 });
  await server.models.ensureTuner('tiny');
  await server.sessions.create({ id: 'storm', model: 'tiny' });
});
afterAll(async () => {
  await server?.dispose();
});

describe('abort storm', () => {
  it('clients leaving at every moment of every streaming route, over HTTP and in process, leave nothing held', async () => {
    const random = mulberry32(SEED);
    const rssBefore = process.memoryUsage().rss;
    const deadline = Date.now() + BUDGET_MS;
    const tally = new Map<string, number>();
    let http = 0;
    while (http < HTTP_OPERATIONS && Date.now() < deadline) {
      const batch = Array.from({ length: Math.min(6, HTTP_OPERATIONS - http) }, () => {
        const [path, body] = ROUTES[Math.floor(random() * ROUTES.length)] as (typeof ROUTES)[number];
        const moment = MOMENTS[Math.floor(random() * MOMENTS.length)] as Moment;
        tally.set(moment, (tally.get(moment) ?? 0) + 1);
        return leave(server.port, path, body(20 + Math.floor(random() * 200)), moment, random);
      });
      http += batch.length;
      await Promise.all(batch);
    }

    let inProcess = 0;
    while (inProcess < IN_PROCESS_OPERATIONS && Date.now() < deadline) {
      const batch = Array.from({ length: Math.min(10, IN_PROCESS_OPERATIONS - inProcess) }, async () => {
        const controller = new AbortController();
        const stream = server.router.stream('model/tiny', ModelMessage.Generate, { prompt: 'go on', params: { maxTokens: 200 } }, { signal: controller.signal });
        const how = Math.floor(random() * 3);
        const after = Math.floor(random() * 6);
        if (how === 0) setTimeout(() => controller.abort(), after);
        let events = 0;
        try {
          for await (const _event of stream as AsyncIterable<TokenStreamEvent>) {
            if (how === 1 && ++events > after) stream.cancel();
            if (how === 2 && ++events > after) break;
          }
        } catch {
          // A stream aborted before it started rejects: that is one of the moments being tried.
        }
      });
      inProcess += batch.length;
      await Promise.all(batch);
    }
    console.log(`abortStorm: seed ${SEED}, ${http} HTTP clients left (${JSON.stringify(Object.fromEntries(tally))}), ${inProcess} in-process streams aborted`);
    expect(http + inProcess).toBeGreaterThan(50);

    await expect.poll(async () => (await server.status()).busySlots, { timeout: 20_000 }).toBe(0);
    expect((await server.status()).queueDepth).toBe(0);
    await expect.poll(() => server.connections(), { timeout: 20_000 }).toBe(0);
    const ok = await chatStillServes(server.url);
    expect(ok.status).toBe(200);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * 2 ** 20);
  });
});
