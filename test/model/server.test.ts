import { execFileSync } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyAdapters, ensureTinyModel } from '../../scripts/make-models.js';
import {
  type AdapterListing,
  address,
  createServer,
  type EvaluationResult,
  type ModelLoadOptions,
  ModelMessage,
  type ModelStatus,
  type ServerOptions,
  type TokenStreamEvent,
} from '../../src/index.js';
import { Deferred } from '../../src/messaging/Deferred.js';
import { startTestServer } from './helpers/testServer.js';

let tinyPath: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(load: ModelLoadOptions = {}, serverOptions: Partial<ServerOptions> = {}) {
  const server = await startTestServer(load, serverOptions);
  cleanups.push(server.dispose);
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: serverOptions.apiKey ?? 'unused', maxRetries: 0 });
  return { ...server, client };
}

const post = (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(url, { method: 'POST', headers, body });

describe('HTTP server: OpenAI-compatible endpoints through the official client', () => {
  it('chat completions, non-streaming and streaming (with usage), give the same greedy text', async () => {
    const { client } = await setup();
    const request = { model: 'tiny', messages: [{ role: 'user' as const, content: 'hello' }], max_tokens: 10, temperature: 0 };
    const plain = await client.chat.completions.create(request);
    expect(plain.object).toBe('chat.completion');
    expect(plain.choices[0]?.finish_reason).toBe('length');
    expect(plain.usage).toMatchObject({ completion_tokens: 10, total_tokens: (plain.usage?.prompt_tokens ?? 0) + 10 });

    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: typeof plain.usage;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(plain.choices[0]?.message.content);
    expect(finish).toBe('length');
    // The same prompt again: the streaming call finds it in the slot's KV cache.
    const { prompt_tokens_details: streamedCache, ...streamed } = usage ?? {};
    const { prompt_tokens_details: plainCache, ...counted } = plain.usage ?? {};
    expect(streamed).toEqual(counted);
    expect(plainCache?.cached_tokens).toBe(0);
    expect(streamedCache?.cached_tokens).toBeGreaterThan(0);
  });

  it('stop, top_p, seed and a JSON-schema response_format are honoured', async () => {
    const { client } = await setup();
    const base = { model: 'tiny', messages: [{ role: 'user' as const, content: 'hello' }], max_tokens: 12, temperature: 0 };
    const full = (await client.chat.completions.create(base)).choices[0]?.message.content ?? '';
    const stopAt = full.trim().split(' ')[2] ?? '';
    const stopped = await client.chat.completions.create({ ...base, stop: [stopAt] });
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
    expect(stopped.choices[0]?.message.content).toBe(full.slice(0, full.indexOf(stopAt)));

    const seeded = { ...base, temperature: 1, top_p: 0.9, seed: 11 };
    const [a, b] = [await client.chat.completions.create(seeded), await client.chat.completions.create(seeded)];
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);

    const json = await client.chat.completions.create({
      ...base,
      max_tokens: 40,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
      },
    });
    expect(typeof (JSON.parse(json.choices[0]?.message.content ?? '') as { ok: unknown }).ok).toBe('boolean');
  });

  it('completions, embeddings and the model list', async () => {
    const { client } = await setup();
    const completion = await client.completions.create({ model: 'tiny', prompt: 'the actor', max_tokens: 6, temperature: 0 });
    expect(completion.choices[0]?.text.length).toBeGreaterThan(0);
    const embeddings = await client.embeddings.create({ model: 'tiny', input: ['one', 'two'] });
    expect(embeddings.data.map((d) => d.index)).toEqual([0, 1]);
    expect(embeddings.data[0]?.embedding.length).toBeGreaterThan(0);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['tiny']);
  });

  it('a client that disconnects mid-stream stops the model’s generation there and frees the slot', async () => {
    const { client, router, models, url } = await setup({ slots: 1 });
    const model = await models.ensureStarted('tiny');
    const status = () => router.ask<ModelStatus>(model, ModelMessage.Status, null);
    const maxTokens = 480;
    const disconnectAt = 8;
    const body = { model: 'tiny', messages: [{ role: 'user', content: 'go on forever' }], max_tokens: maxTokens, temperature: 0 };
    // Left alone, this generation runs all its tokens (greedy on the tiny model reaches no EOS here).
    const full = (await (await post(`${url}/v1/chat/completions`, JSON.stringify(body))).json()) as {
      choices: Array<{ finish_reason: string }>;
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect([full.choices[0]?.finish_reason, full.usage.completion_tokens]).toEqual(['length', maxTokens]);
    const before = await status();
    expect(before.batching).toBeDefined(); // the native engine, whose decodes are counted below

    // The client hangs up as the model emits its `disconnectAt`-th token: the generation is then
    // certainly mid-way, whatever the speed of the model or of the client's reading. The model's
    // events are watched, synchronously as it emits them, up to the one that ends its stream.
    const request = httpRequest(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    let emitted = 0;
    const ended = new Deferred<{ event: TokenStreamEvent; emitted: number }>();
    const unsubscribe = router.subscribe(model, (emission) => {
      if (emission.kind !== 'stream-event') return;
      const { event } = emission;
      if (event.type === 'token' && event.tokenId !== undefined && ++emitted === disconnectAt) request.destroy();
      if (event.type === 'done' || event.type === 'error') ended.resolve({ event, emitted });
    });
    cleanups.push(async () => unsubscribe());
    request.on('error', () => {}); // the destroy's own "socket hang up"
    request.on('response', (response) => response.resume());
    request.end(JSON.stringify({ ...body, stream: true }));
    const end = await ended.promise;
    // The hang-up reached the model's stream as an abort, before the generation's end.
    expect(end.event).toMatchObject({ type: 'error', code: 'ABORTED' });
    expect(end.emitted).toBeGreaterThanOrEqual(disconnectAt);
    expect(end.emitted).toBeLessThan(maxTokens);
    // The slot comes back when the model's generation has ended; the deadline only guards a hang.
    await expect.poll(async () => (await status()).busySlots, { timeout: 30_000 }).toBe(0);
    const after = await status();
    // The model's own counters. The actor counted nothing after the abort but the one token it may
    // have had on its way to the stream then; the engine decoded the prompt's uncached rest, those
    // tokens, the one the actor took and dropped and at most two sampled ahead (NativeJob.AHEAD).
    expect(after.tokensGenerated - before.tokensGenerated).toBeLessThanOrEqual(end.emitted + 1);
    const decoded = (after.batching?.tokens ?? Number.NaN) - (before.batching?.tokens ?? Number.NaN);
    expect(decoded).toBeLessThanOrEqual(full.usage.prompt_tokens + end.emitted + 4);
    // The one slot serves the next request.
    const next = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    expect(next.choices[0]?.finish_reason).toBe('length');
  });

  it('a request naming a session continues its history and KV cache', async () => {
    const { client, sessions } = await setup();
    await sessions.create({ id: 'web-1', model: 'tiny' });
    const ask = (content: string) =>
      client.chat.completions.create({
        model: 'tiny',
        messages: [{ role: 'user', content }],
        max_tokens: 4,
        temperature: 0,
        // @ts-expect-error: the non-standard field that names a session
        session: 'web-1',
      });
    await ask('first');
    await ask('second');
    const stored = await sessions.get('web-1');
    expect(stored.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['first', 'second']);
  });
});

describe('HTTP server: bad requests, overload and safety', () => {
  it('malformed requests get 4xx with a typed code, and nothing crashes the server', async () => {
    const { url, client } = await setup({}, { bodyLimit: 10_000 });
    const cases: Array<[Promise<Response>, number, string]> = [
      [post(`${url}/v1/chat/completions`, '{not json'), 400, 'INVALID_ARGUMENT'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', messages: 'hi' })), 400, 'INVALID_ARGUMENT'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 42, messages: [] })), 400, 'INVALID_ARGUMENT'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', messages: [{ role: 'robot', content: 'x' }] })), 400, 'INVALID_ARGUMENT'],
      // Refused by the route's schema before the model sees them (the model's own check is INVALID_PARAMETER).
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' })), 400, 'INVALID_ARGUMENT'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 })), 400, 'INVALID_ARGUMENT'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })), 404, 'ENTITY_NOT_FOUND'],
      [post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', prompt: 'x'.repeat(20_000) })), 413, 'BODY_TOO_LARGE'],
      [post(`${url}/v1/embeddings`, JSON.stringify({ model: 'tiny', input: 7 })), 400, 'INVALID_ARGUMENT'],
      [fetch(`${url}/v2/everything`), 404, 'ROUTE_NOT_FOUND'],
      [post(`${url}/sessions`, JSON.stringify({ model: 'tiny', id: '../etc' })), 400, 'INVALID_ADDRESS'],
    ];
    for (const [pending, status, code] of cases) {
      const response = await pending;
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect([response.status, body.error.code]).toEqual([status, code]);
      expect(body.error.message.length).toBeGreaterThan(0);
    }
    const ok = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'still fine' }], max_tokens: 2 });
    expect(ok.choices).toHaveLength(1);
  });

  it('a full queue answers 503 with Retry-After', async () => {
    const { url, client } = await setup({ slots: 1, maxQueue: 0 });
    const long = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'long' }],
      max_tokens: 400,
      stream: true,
    });
    const iterator = long[Symbol.asyncIterator]();
    await iterator.next(); // the slot is taken
    const refused = await post(`${url}/v1/chat/completions`, JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('QUEUE_FULL');
    long.controller.abort();
  });

  it('an API key is required on every route but / and /health when configured; non-loopback needs one', async () => {
    const { url } = await setup({}, { apiKey: 'sekret' });
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sekret' } })).status).toBe(200);
    // The Anthropic SDK sends the key as x-api-key.
    expect((await fetch(`${url}/v1/models`, { headers: { 'x-api-key': 'sekret' } })).status).toBe(200);
    expect((await fetch(`${url}/v1/models`, { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
    const { router, models, sessions } = await setup();
    expect(() => createServer({ router, models, sessions, host: '0.0.0.0' })).toThrow('binding 0.0.0.0 (not loopback) requires an apiKey');
  });

  it('model paths published over HTTP are confined to the configured directories', async () => {
    const { url } = await setup();
    const outside = await post(`${url}/models`, JSON.stringify({ id: 'evil', provider: 'local', path: '/etc/passwd' }));
    expect(outside.status).toBe(403);
    expect(((await outside.json()) as { error: { code: string } }).error.code).toBe('PATH_NOT_ALLOWED');
    const sneaky = await post(`${url}/models`, JSON.stringify({ id: 'evil', provider: 'local', path: `${dirname(tinyPath)}/../package.json` }));
    expect(sneaky.status).toBe(403);
    const inside = await post(`${url}/models`, JSON.stringify({ id: 'tiny-2', provider: 'local', path: tinyPath }));
    expect(inside.status).toBe(201);
  });
});

describe('HTTP server: native endpoints, health and metrics', () => {
  it('ask and stream any actor; session CRUD; SSE of TokenStreamEvents', async () => {
    const { url, models } = await setup();
    await models.ensureStarted('tiny');
    const asked = await post(`${url}/actors/model/tiny/ask`, JSON.stringify({ type: 'tokenize', payload: { text: 'the actor' } }));
    expect(((await asked.json()) as { reply: { tokens: number[] } }).reply.tokens.length).toBeGreaterThan(0);

    const streamed = await post(`${url}/actors/model/tiny/stream`, JSON.stringify({ type: 'generate', payload: { prompt: 'the', params: { maxTokens: 3, temperature: 0 } } }));
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    const events = (await streamed.text()).split('\n\n').filter(Boolean);
    expect(events.map((e) => e.split('\n')[0])).toEqual(['event: token', 'event: token', 'event: token', 'event: done']);

    const created = await post(`${url}/sessions`, JSON.stringify({ id: 'crud', model: 'tiny', systemPrompt: 'be brief' }));
    expect(created.status).toBe(201);
    const reply = await post(`${url}/sessions/crud/messages`, JSON.stringify({ message: 'hi', params: { maxTokens: 3 }, stream: false }));
    expect(((await reply.json()) as { finishReason: string }).finishReason).toBe('length');
    const sse = await post(`${url}/sessions/crud/messages`, JSON.stringify({ message: 'again', params: { maxTokens: 3 } }));
    expect((await sse.text()).trim().split('\n\n').at(-1)).toMatch(/^event: done/);
    const session = (await (await fetch(`${url}/sessions/crud`)).json()) as { turns: unknown[] };
    expect(session.turns).toHaveLength(4);
    const listed = (await (await fetch(`${url}/sessions`)).json()) as { sessions: Array<{ id: string }> };
    expect(listed.sessions.map((s) => s.id)).toEqual(['crud']);
    expect((await fetch(`${url}/sessions/crud`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${url}/sessions/crud`)).status).toBe(404);
  });

  it('health is 200 once loaded; metrics are Prometheus text with requests, queue, slots, tokens and TTFT', async () => {
    const { url, client } = await setup();
    await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', models: [{ id: 'tiny', state: 'ready' }] });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of [
      'llama_actors_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1',
      'llama_actors_tokens_generated_total{model="tiny"} 4',
      'llama_actors_time_to_first_token_seconds_count{model="tiny"} 1',
      'llama_actors_queue_depth{model="tiny"} 0',
      'llama_actors_busy_slots{model="tiny"} 0',
      'llama_actors_slots{model="tiny"} 2',
      'llama_actors_tokens_per_second{model="tiny"}',
    ]) {
      expect(metrics).toContain(name);
    }
  });
});

describe('HTTP server: adapters and evaluation (TunerActor)', () => {
  const json = async <T>(response: Response): Promise<T> => (await response.json()) as T;
  const send = (url: string, method: string, body: unknown) =>
    fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('applies, rescales, lists and removes adapters; chat requests may name their own set', async () => {
    const { url, client } = await setup();
    const adapters = await ensureTinyAdapters();
    const chat = { model: 'tiny', messages: [{ role: 'user' as const, content: 'hello' }], max_tokens: 10, temperature: 0 };
    const base = (await client.chat.completions.create(chat)).choices[0]?.message.content;

    const validated = await send(`${url}/models/tiny/adapters/validate`, 'POST', { path: adapters.valid });
    expect(await json<{ rank: number }>(validated)).toMatchObject({ rank: 4, architecture: 'llama' });
    const applied = await send(`${url}/models/tiny/adapters`, 'POST', { path: adapters.valid, scale: 1 });
    expect(applied.status).toBe(200);
    expect((await json<AdapterListing>(applied)).applied).toEqual([{ path: adapters.valid, scale: 1 }]);
    const adapted = (await client.chat.completions.create(chat)).choices[0]?.message.content;
    expect(adapted).not.toBe(base);
    // The extension field `adapters` picks the set per request: [] is the base model.
    const explicitBase = await client.chat.completions.create({ ...chat, adapters: [] } as typeof chat);
    expect(explicitBase.choices[0]?.message.content).toBe(base);

    const rescaled = await send(`${url}/models/tiny/adapters`, 'PATCH', { path: adapters.valid, scale: 0 });
    expect((await json<AdapterListing>(rescaled)).applied).toEqual([{ path: adapters.valid, scale: 0 }]);
    expect((await client.chat.completions.create(chat)).choices[0]?.message.content).toBe(base);
    const listed = await json<AdapterListing>(await fetch(`${url}/models/tiny/adapters`));
    expect(listed.contexts.some((c) => c.isDefault && c.adapters.length === 1)).toBe(true);
    const removed = await fetch(`${url}/models/tiny/adapters?path=${encodeURIComponent(adapters.valid)}`, { method: 'DELETE' });
    expect((await json<AdapterListing>(removed)).applied).toEqual([]);
  });

  it('bad adapters get typed 4xx answers; paths outside the adapter directories are refused', async () => {
    const { url } = await setup();
    const adapters = await ensureTinyAdapters();
    const bad = await send(`${url}/models/tiny/adapters`, 'POST', { path: adapters.badShape });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { code: string; message: string } }>(bad)).error).toMatchObject({
      code: 'INCOMPATIBLE_ADAPTER',
      message: expect.stringContaining('blk.0.attn_q.weight'),
    });
    const missing = await send(`${url}/models/tiny/adapters`, 'POST', { path: `${dirname(tinyPath)}/missing.gguf` });
    expect(missing.status).toBe(404);
    expect((await json<{ error: { code: string } }>(missing)).error.code).toBe('ADAPTER_FILE_NOT_FOUND');
    const notApplied = await send(`${url}/models/tiny/adapters`, 'DELETE', { path: adapters.valid });
    expect(notApplied.status).toBe(404);
    for (const response of [
      await send(`${url}/models/tiny/adapters`, 'POST', { path: '/etc/passwd' }),
      await send(`${url}/v1/chat/completions`, 'POST', { model: 'tiny', messages: [{ role: 'user', content: 'x' }], adapters: [{ path: '/etc/passwd' }] }),
      await send(`${url}/models`, 'POST', { id: 'with-lora', provider: 'local', path: tinyPath, load: { adapters: [{ path: '/etc/passwd' }] } }),
      // The generic actor endpoint cannot be used to reach files the dedicated ones refuse.
      await send(`${url}/actors/model/tiny/ask`, 'POST', { type: 'applyAdapter', payload: { path: '/etc/passwd' } }),
      await send(`${url}/actors/model/tiny/stream`, 'POST', { type: 'generate', payload: { prompt: 'x', adapters: [{ path: '/etc/hosts' }] } }),
    ]) {
      expect(response.status).toBe(403);
      expect((await json<{ error: { code: string } }>(response)).error.code).toBe('PATH_NOT_ALLOWED');
    }
    expect((await fetch(`${url}/models/nope/adapters`)).status).toBe(404);
  });

  it('evaluates examples: SSE progress events then done with the metrics, or one JSON result', async () => {
    const { url } = await setup();
    const examples = ['actors', 'models'].map((topic) => ({
      messages: [
        { role: 'user', content: `What are ${topic}?` },
        { role: 'assistant', content: `The ${topic} are part of the actor model.` },
      ],
    }));
    const streamed = await send(`${url}/models/tiny/evaluate`, 'POST', { examples });
    const events = (await streamed.text()).trim().split('\n\n');
    expect(events.map((e) => e.split('\n')[0])).toEqual(['event: progress', 'event: progress', 'event: done']);
    const done = JSON.parse(events[2]?.split('\n').find((line) => line.startsWith('data: '))?.slice(6) ?? '{}') as { data: EvaluationResult };
    const plain = await json<EvaluationResult>(await send(`${url}/models/tiny/evaluate`, 'POST', { examples, stream: false }));
    expect(plain.totalTokens).toBe(done.data.totalTokens);
    expect(plain.averageLoss).toBeCloseTo(done.data.averageLoss, 9);
    const bad = await send(`${url}/models/tiny/evaluate`, 'POST', { examples: [{ messages: [{ role: 'user', content: 'no answer' }] }], stream: false });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { code: string } }>(bad)).error.code).toBe('INVALID_TRAINING_DATA');
  });

  it('health is 503 while a model loads', async () => {
    const { url, models } = await setup();
    const fifo = join(dirname(tinyPath), `loading-${process.pid}.gguf`);
    execFileSync('mkfifo', [fifo]);
    try {
      // Opening a FIFO blocks until a writer opens it: the model stays in `loading` until then.
      await models.publishModel({ id: 'slow', provider: address('local'), path: fifo });
      await models.ensureStarted('slow');
      const loading = await fetch(`${url}/health`);
      expect(loading.status).toBe(503);
      expect(await loading.json()).toMatchObject({ status: 'loading', models: expect.arrayContaining([{ id: 'slow', state: 'loading' }]) });
      const writer = await open(fifo, 'w');
      await writer.write('not a model');
      await writer.close();
      await expect(models.invokeModel('slow', { message: 'hi' })).rejects.toMatchObject({ code: 'INVALID_MODEL_FILE' });
      const failed = await fetch(`${url}/health`);
      expect(await failed.json()).toMatchObject({ models: expect.arrayContaining([{ id: 'slow', state: 'failed' }]) });
    } finally {
      await rm(fifo, { force: true });
    }
  });
});
