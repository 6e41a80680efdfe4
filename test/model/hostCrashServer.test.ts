/**
 * The server over model hosts, end to end: a host killed under an SSE stream ends that stream with
 * an ACTOR_HOST_LOST event, while a stream on the other model
 * and a session turn on it go on; /health says which host is down and which is up; the next
 * request on the crashed model is served by a new host, and the session's history is intact.
 */
import { dirname } from 'node:path';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  createServer,
  type LlamaActorsServer,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  type ModelStatus,
  SessionManager,
} from '../../src/index.js';

let router: MessageRouter;
let server: LlamaActorsServer;
let sessions: SessionManager;
let url: string;

beforeAll(async () => {
  const tinyPath = await ensureTinyModel();
  router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  const store = new MemoryStore();
  const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ isolation: 'process', host: { killGraceMs: 2_000 } })] });
  sessions = new SessionManager({ router, store, models });
  await models.publishProvider({ id: 'local', kind: 'local-llama' });
  for (const id of ['left', 'right']) await models.publishModel({ id, provider: address('local'), path: tinyPath, load: { slots: 2, threads: 1, contextSize: 512 } });
  server = createServer({ router, models, sessions, store, port: 0, modelDirs: [dirname(tinyPath)] });
  url = await server.listen();
  await Promise.all(['left', 'right'].map(async (id) => (await models.ref(id)).ask(ModelMessage.Info, null)));
}, 120_000);

afterAll(async () => {
  await router?.dispose();
  await server?.close();
});

const hostPid = async (id: string) => (await router.ask<ModelStatus>(`model/${id}`, ModelMessage.Status, null)).host?.pid as number;

/** The SSE events of a streamed response, read one `data:` line at a time. */
async function* sseData(response: Response): AsyncGenerator<Record<string, unknown>> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(bytes, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('data: ') && line !== 'data: [DONE]') yield JSON.parse(line.slice(6)) as Record<string, unknown>;
  }
}

describe('a host that dies under the server', () => {
  it('ends its streams typed, leaves the other model and its sessions alone, and is back for the next request', async () => {
    const session = await sessions.create({ id: 'on-right', model: 'right' });
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const doomedPid = await hostPid('left');

    const doomed = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'left', messages: [{ role: 'user', content: 'go on' }], max_tokens: 400, stream: true }),
    });
    const events = sseData(doomed);
    expect(((await events.next()).value as { choices: unknown[] }).choices).toBeDefined();
    // The other model's stream is under way when the crash comes.
    const other = openai.chat.completions.create({ model: 'right', messages: [{ role: 'user', content: 'hello' }], max_tokens: 24, temperature: 0, stream: true });
    process.kill(doomedPid, 'SIGKILL');

    let last: Record<string, unknown> | undefined;
    for await (const event of events) last = event;
    expect(last).toMatchObject({ error: { code: 'ACTOR_HOST_LOST', message: expect.stringContaining('SIGKILL') as string } });
    let text = '';
    for await (const chunk of await other) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);

    // A session turn on the other model, during the restart.
    const turn = await fetch(`${url}/sessions/${session.slice(2, -1).split('/')[1]}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'still there?', stream: false, params: { maxTokens: 6 } }),
    });
    expect(turn.status).toBe(200);

    // The next request on the crashed model is served by a new host; /health shows both up again.
    const again = await openai.chat.completions.create({ model: 'left', messages: [{ role: 'user', content: 'again' }], max_tokens: 6 });
    expect(again.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string; models: Array<{ id: string; host: { state: string; pid: number; restarts: number } }> };
    expect(health.status).toBe('ok');
    const byId = Object.fromEntries(health.models.map((m) => [m.id, m.host]));
    expect(byId.left).toMatchObject({ state: 'up', restarts: 1 });
    expect(byId.left?.pid).not.toBe(doomedPid);
    expect(byId.right).toMatchObject({ state: 'up', restarts: 0 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/llama_actors_model_host_restarts\{model="left"\} 1/);
    expect(metrics).toMatch(/llama_actors_model_host_up\{model="right"\} 1/);
    expect(metrics).toMatch(/llama_actors_model_host_rss_bytes\{model="right"\} \d{7,}/);
    const stored = (await (await fetch(`${url}/sessions/on-right`)).json()) as { turns: unknown[] };
    expect(stored.turns.length).toBe(2);
  });
});
