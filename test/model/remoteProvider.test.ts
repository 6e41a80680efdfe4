/**
 * The openai-compatible provider against a real remote: this project's own `llama-actors serve`,
 * running the tiny model in a child process behind an API key. Everything goes through the same
 * ModelManager, router and sessions a local model uses; the remote's own status (its generic
 * `/actors/.../ask` route) says what happened on its side.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  address,
  type InferenceResult,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  type ModelStatus,
  OpenAICompatibleProvider,
  SessionManager,
  SessionMessage,
} from '../../src/index.js';
import { CliProcess } from './helpers/cliProcess.js';

const KEY = 'remote-test-key';
/** `</s>` and `<|im_end|>` of the generated vocabulary: banned, a generation runs to maxTokens. */
const NO_END = { 2: -100, 4: -100 };

let remote: CliProcess;
let url: string;
let dataDir: string;
let router: MessageRouter;
let models: ModelManager;
let sessions: SessionManager;
let direct: OpenAI;

/** The remote's own view of its model (busy slots, tokens it generated). */
async function remoteStatus(): Promise<ModelStatus> {
  const response = await fetch(`${url}/actors/model/tiny/ask`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'status' }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { reply: ModelStatus }).reply;
}

/** A port nothing listens on (a connection to it is refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function publishRemote(id: string, spec: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): Promise<void> {
  await models.publishProvider({ id: `p-${id}`, kind: 'openai-compatible', settings: { baseURL: `${url}/v1`, apiKeyEnv: 'REMOTE_KEY', ...settings } });
  await models.publishModel({ id, provider: address(`p-${id}`), remote: { model: 'tiny', ...spec } });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'la-remote-'));
  remote = new CliProcess(
    ['serve', '--model', 'models/tiny.gguf', '--port', '0', '--slots', '2', '--threads', '1', '--context-size', '4096', '--isolation', 'in-process', '--data-dir', dataDir],
    { LLAMA_ACTORS_API_KEY: KEY },
  );
  url = (await remote.until(/serving model "tiny" at (http:\/\/\S+)/, 120_000))[1] ?? '';
  direct = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
  router = new MessageRouter();
  const store = new MemoryStore();
  const env = { REMOTE_KEY: KEY, WRONG_KEY: 'not-the-key' };
  models = new ModelManager({ router, store, providers: [new LocalLlamaProvider(), new OpenAICompatibleProvider({ env })] });
  sessions = new SessionManager({ router, store, models });
  await publishRemote('tiny-remote', { maxConcurrent: 2 });
}, 180_000);

afterAll(async () => {
  await router?.dispose();
  await remote?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('openai-compatible provider, against llama-actors serve in a child process', () => {
  it('streams what the remote streams: the same text, a token event per delta, the remote usage', async () => {
    const params = { maxTokens: 24, temperature: 0, seed: 1 };
    const messages = [{ role: 'user' as const, content: 'Tell me about actors.' }];
    let directText = '';
    let deltas = 0;
    const upstream = await direct.chat.completions.create({ model: 'tiny', messages, max_tokens: 24, temperature: 0, seed: 1, stream: true });
    for await (const chunk of upstream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        directText += content;
        deltas += 1;
      }
    }
    const model = await models.ref('tiny-remote');
    const events = [];
    const stream = model.stream(ModelMessage.Generate, { messages, params });
    for await (const event of stream) events.push(event);
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens.map((e) => e.content).join('')).toBe(directText);
    expect(tokens).toHaveLength(deltas);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length', usage: { completionTokens: 24 } });
    expect(events.at(-1)?.usage?.promptTokens).toBeGreaterThan(0);
    const info = await model.ask(ModelMessage.Info, null);
    expect(info).toMatchObject({ engine: 'remote', slots: 2, remote: { baseURL: `${url}/v1`, model: 'tiny', vision: false } });
  });

  it('an abort ends the upstream request: the remote frees its slot and stops generating', async () => {
    const before = await remoteStatus();
    const model = await models.ref('tiny-remote');
    const controller = new AbortController();
    const stream = model.stream(
      ModelMessage.Generate,
      { prompt: 'Once upon a time', params: { maxTokens: 3_000, temperature: 0, logitBias: NO_END } },
      { signal: controller.signal },
    );
    for await (const event of stream) {
      if (event.type === 'token') break;
    }
    controller.abort();
    let after = await remoteStatus();
    for (let i = 0; i < 100 && after.busySlots > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await remoteStatus();
    }
    expect(after.busySlots).toBe(0);
    // The remote saw the disconnect: far fewer than the 3,000 tokens asked for.
    expect(after.tokensGenerated - before.tokensGenerated).toBeLessThan(1_500);
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('a wrong key is PROVIDER_AUTH_FAILED with the remote status and message; a missing key variable is PROVIDER_KEY_MISSING', async () => {
    await publishRemote('tiny-wrong-key', {}, { apiKeyEnv: 'WRONG_KEY' });
    const wrong = await models.ref('tiny-wrong-key');
    const failure = await wrong.ask(ModelMessage.Generate, { prompt: 'hi', params: { maxTokens: 2 } }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', kind: 'bad_gateway', upstreamStatus: 401 });
    expect(String((failure as Error).message)).toMatch(/refused the credentials: 401 .*bearer token/);
    expect((await wrong.ask(ModelMessage.Status, null)).remote).toMatchObject({ failures: 1, lastError: { code: 'PROVIDER_AUTH_FAILED' } });

    await publishRemote('tiny-no-key', {}, { apiKeyEnv: 'UNSET_VARIABLE' });
    await expect(models.ref('tiny-no-key')).rejects.toMatchObject({ code: 'PROVIDER_KEY_MISSING', message: expect.stringMatching(/\$UNSET_VARIABLE/) });
  });

  it('past maxConcurrent + maxQueue a request is QUEUE_FULL at once; the queue place of an aborted waiter is freed', async () => {
    await publishRemote('tiny-one', { maxConcurrent: 1, maxQueue: 1 });
    const model = await models.ref('tiny-one');
    const running = new AbortController();
    const long = model.stream(ModelMessage.Generate, { prompt: 'Once', params: { maxTokens: 3_000, logitBias: NO_END } }, { signal: running.signal });
    const first = long[Symbol.asyncIterator]();
    await first.next(); // in flight upstream now
    const waiting = new AbortController();
    const queued = model.ask(ModelMessage.Generate, { prompt: 'Twice', params: { maxTokens: 2 } }, { signal: waiting.signal });
    queued.catch(() => {});
    await expect(model.ask(ModelMessage.Generate, { prompt: 'Thrice', params: { maxTokens: 2 } })).rejects.toMatchObject({
      code: 'QUEUE_FULL',
      message: 'queue full: 1 waiting, limit 1 (all 1 slots busy)',
    });
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ inFlight: 1, queued: 1 });
    waiting.abort();
    await expect(queued).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ inFlight: 1, queued: 0 });
    running.abort();
    await first.return?.();
    const after = await model.ask(ModelMessage.Generate, { prompt: 'Again', params: { maxTokens: 2 } });
    expect(after.usage.completionTokens).toBe(2);
  });

  it('a session continues on a remote model: each turn sends the whole history, and it is kept here', async () => {
    const chat = await sessions.create({ model: 'tiny-remote', systemPrompt: 'Be brief.' });
    const first = await router.ask<InferenceResult>(chat, SessionMessage.Inference, { message: 'hello', params: { maxTokens: 6, temperature: 0 } });
    const second = await router.ask<InferenceResult>(chat, SessionMessage.Inference, { message: 'and then?', params: { maxTokens: 6, temperature: 0 } });
    expect(first.usage?.completionTokens).toBe(6);
    // The second prompt holds the system prompt, the first exchange and the new message.
    expect(second.usage?.promptTokens ?? 0).toBeGreaterThan((first.usage?.promptTokens ?? 0) + 6);
    const stored = await sessions.get(String(chat));
    expect(stored.turns.map((t) => [t.role, t.content])).toEqual([
      ['user', 'hello'],
      ['assistant', first.text],
      ['user', 'and then?'],
      ['assistant', second.text],
    ]);
  });

  it('refuses what a remote cannot do, before any request: adapters, scoring, images to a model without vision', async () => {
    const model = await models.ref('tiny-remote');
    const requests = (await model.ask(ModelMessage.Status, null)).remote?.requests;
    await expect(model.ask(ModelMessage.Score, { tokens: [1, 2, 3] })).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_PROVIDER' });
    await expect(model.ask(ModelMessage.ApplyAdapter, { path: 'models/tiny-lora.gguf' })).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_PROVIDER' });
    await expect(
      model.ask(ModelMessage.Generate, { prompt: 'x', adapters: [{ path: 'models/tiny-lora.gguf' }] }),
    ).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_PROVIDER', message: expect.stringMatching(/LoRA adapters/) });
    await expect(
      model.ask(ModelMessage.Generate, { messages: [{ role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' }] }] }),
    ).rejects.toMatchObject({ code: 'MODALITY_NOT_SUPPORTED', message: expect.stringMatching(/model tiny-remote cannot take image input \(messages\[0\]\.content\[1\]\)/) });
    expect((await model.ask(ModelMessage.Status, null)).remote?.requests).toBe(requests);
  });

  it('a remote that cannot be reached is PROVIDER_UNAVAILABLE after its bounded retries, and the other remote model streams on', async () => {
    const port = await closedPort();
    await models.publishProvider({ id: 'p-down', kind: 'openai-compatible', settings: { baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 1, maxRetryDelayMs: 1_000 } });
    await models.publishModel({ id: 'down', provider: address('p-down'), remote: { model: 'x' } });
    const down = await models.ref('down');
    const good = await models.ref('tiny-remote');
    const [failure, fine] = await Promise.all([
      down.ask(ModelMessage.Generate, { prompt: 'hi' }).catch((error: unknown) => error),
      good.ask(ModelMessage.Generate, { prompt: 'hi', params: { maxTokens: 4 } }),
    ]);
    expect(failure).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', kind: 'unavailable', message: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${port}/v1 \\(model x\\) unavailable: .*ECONNREFUSED`)) });
    expect((await down.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 2, retries: 1, failures: 1 });
    expect(fine.usage.completionTokens).toBe(4);
  });

  it('refuses provider settings that would store a key, and models that mix a file with a remote', async () => {
    await expect(
      models.publishProvider({ id: 'p-secret', kind: 'openai-compatible', settings: { baseURL: `${url}/v1`, apiKey: KEY } }),
    ).rejects.toMatchObject({ code: 'INVALID_ENTITY', message: expect.stringMatching(/keys are never stored/) });
    await expect(
      models.publishProvider({ id: 'p-header', kind: 'openai-compatible', settings: { baseURL: `${url}/v1`, headers: { Authorization: `Bearer ${KEY}` } } }),
    ).rejects.toMatchObject({ code: 'INVALID_ENTITY' });
    await expect(models.publishModel({ id: 'mixed', provider: address('p-tiny-remote'), path: 'models/tiny.gguf', remote: { model: 'tiny' } })).rejects.toMatchObject({
      code: 'INVALID_ENTITY',
    });
    expect(JSON.stringify(await models.listProviders())).not.toContain(KEY);
  });
});
