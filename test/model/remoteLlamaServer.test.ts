/**
 * The openai-compatible provider against a real llama.cpp `llama-server` (built from the source
 * node-llama-cpp bundles; test/model/helpers/llamaServer.ts) serving the tiny model, through
 * ModelManager refs as any caller uses a model: the same stream as the `openai` client calling
 * llama-server directly, an abort that frees llama-server's slot (its own /slots and /metrics say
 * so), embeddings, tokenize/detokenize, the per-slot context from /props, images refused (by us, or
 * by a llama-server without a projector) and an image that reaches a llama-server with one, over
 * the model protocol and over our HTTP server, and the API key.
 */
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyProjector } from '../../scripts/makeProjector.js';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  type ChatMessage,
  createServer,
  type LlamaActorsServer,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  OpenAICompatibleProvider,
  SessionManager,
} from '../../src/index.js';
import { idleWithin, type LlamaServerProcess, logWithin, startLlamaServer } from './helpers/llamaServer.js';

const KEY = 'llama-server-key';
/** `</s>` and `<|im_end|>` of the generated vocabulary: banned, a generation runs to maxTokens. */
const NO_END = { 2: -100, 4: -100 };
/** A real 2×2 RGB PNG (red, green / blue, white). */
const PNG_2X2 = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=';
const WITH_IMAGE: ChatMessage[] = [
  { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', data: PNG_2X2, mimeType: 'image/png' }] },
];
const TEXT_ONLY: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }] }];

let tiny: string;
/** 2 slots of 256 tokens (context shift on, metrics and embeddings served). */
let server: LlamaServerProcess;
let direct: OpenAI;
let router: MessageRouter;
let store: MemoryStore;
let models: ModelManager;
let sessions: SessionManager;
const stops: Array<() => Promise<void>> = [];

async function publishRemote(id: string, baseURL: string, spec: Record<string, unknown> = {}, settings: Record<string, unknown> = {}): Promise<void> {
  await models.publishProvider({ id: `p-${id}`, kind: 'openai-compatible', settings: { baseURL, maxRetries: 0, ...settings } });
  await models.publishModel({ id, provider: address(`p-${id}`), remote: { model: 'tiny', ...spec } });
}

/** llama-server's `tokens_predicted_total` (GET /metrics, `--metrics`). */
async function tokensPredicted(): Promise<number> {
  const text = await (await fetch(`${server.origin}/metrics`)).text();
  const match = /^llamacpp:tokens_predicted_total (\d+)/m.exec(text);
  expect(match, text).not.toBeNull();
  return Number(match![1]);
}

beforeAll(async () => {
  tiny = await ensureTinyModel();
  server = await startLlamaServer({ model: tiny, slots: 2, contextSize: 512, embeddings: true, extraArgs: ['--context-shift', '--metrics'] });
  stops.push(() => server.stop());
  direct = new OpenAI({ baseURL: server.baseURL, apiKey: 'none', maxRetries: 0 });
  router = new MessageRouter({ logger: pino({ level: 'silent' }) });
  store = new MemoryStore();
  models = new ModelManager({ router, store, providers: [new OpenAICompatibleProvider({ env: { LS_KEY: KEY, LS_WRONG: 'not-the-key' } })] });
  sessions = new SessionManager({ router, store, models });
  await publishRemote('tiny-ls', server.baseURL, { maxConcurrent: 2 });
});

afterAll(async () => {
  await router?.dispose();
  await store?.dispose();
  for (const stop of stops.reverse()) await stop();
});

describe('openai-compatible provider against llama-server (tiny)', () => {
  it('streams what llama-server streams to the openai client: the same text, a token event per delta, done with usage', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about actors.' }];
    let directText = '';
    let deltas = 0;
    let directUsage: OpenAI.CompletionUsage | undefined;
    const upstream = await direct.chat.completions.create({
      model: 'tiny', messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    for await (const chunk of upstream) {
      directUsage = chunk.usage ?? directUsage;
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        directText += content;
        deltas += 1;
      }
    }
    expect(deltas).toBeGreaterThan(1);

    const model = await models.ref('tiny-ls');
    const events = [];
    for await (const event of model.stream(ModelMessage.Generate, { messages, params: { maxTokens: 16, temperature: 0 } })) events.push(event);
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens.map((e) => e.content).join('')).toBe(directText);
    expect(tokens).toHaveLength(deltas);
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      finishReason: 'length',
      usage: { completionTokens: 16, promptTokens: directUsage?.prompt_tokens, totalTokens: directUsage?.total_tokens },
    });
    expect(directUsage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('an abort ends the upstream request: every llama-server slot is idle soon after, and it stopped generating', async () => {
    const model = await models.ref('tiny-ls');
    const before = await tokensPredicted();
    const controller = new AbortController();
    const maxTokens = 200_000; // ~a minute and a half of generation on one thread: far past the abort
    const stream = model.stream(
      ModelMessage.Generate,
      { prompt: 'Once upon a time', params: { maxTokens, temperature: 0, logitBias: NO_END } },
      { signal: controller.signal },
    );
    let tokens = 0;
    let sawProcessing = false;
    for await (const event of stream) {
      if (event.type === 'token') {
        tokens += 1;
        sawProcessing = (await server.slots()).some((slot) => slot.is_processing);
        break;
      }
    }
    controller.abort();
    expect(tokens).toBe(1);
    expect(sawProcessing).toBe(true);

    const idleAfterMs = await idleWithin(server, 3_000);
    console.log(`llama-server: every slot idle ${idleAfterMs.toFixed(1)} ms after the abort through the provider`);
    expect(idleAfterMs).toBeLessThan(3_000);
    expect(await logWithin(server, /cancel task/, 3_000)).toMatch(/cancel task/);
    // Counted once the slot is released: a small part of what was asked for.
    const generated = (await tokensPredicted()) - before;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(20_000);
    // Nothing left over on our side, and both slots serve the next requests at once.
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ inFlight: 0, queued: 0 });
    const [a, b] = await Promise.all([
      model.ask(ModelMessage.Generate, { prompt: 'Next', params: { maxTokens: 4 } }, { timeout: 10_000 }),
      model.ask(ModelMessage.Generate, { prompt: 'And next', params: { maxTokens: 4 } }, { timeout: 10_000 }),
    ]);
    expect([a.usage.completionTokens, b.usage.completionTokens]).toEqual([4, 4]);
  });

  it('embeds through ModelMessage.Embed: one 64-wide vector per input, the numbers llama-server gives the openai client', async () => {
    const model = await models.ref('tiny-ls');
    const input = ['hello there', 'a model of actors'];
    const result = await model.ask(ModelMessage.Embed, { input });
    const expected = await direct.embeddings.create({ model: 'tiny', input, encoding_format: 'float' });
    expect(result.dimensions).toBe(64);
    expect(result.embeddings.map((vector) => vector.length)).toEqual([64, 64]);
    expect(result.embeddings).toEqual(expected.data.map((item) => item.embedding));
    expect(result.embeddings[0]).not.toEqual(result.embeddings[1]);
    expect(result.promptTokens).toBe(expected.usage.prompt_tokens);
    const single = await model.ask(ModelMessage.Embed, { input: 'hello there' });
    const expectedSingle = await direct.embeddings.create({ model: 'tiny', input: 'hello there', encoding_format: 'float' });
    expect(single.embeddings).toEqual([expectedSingle.data[0]?.embedding]);
  });

  it("tokenizes and detokenizes on llama-server's /tokenize and /detokenize: a round trip", async () => {
    const model = await models.ref('tiny-ls');
    const text = 'hello there, actors';
    const { tokens } = await model.ask(ModelMessage.Tokenize, { text });
    const own = (await (await fetch(`${server.origin}/tokenize`, { method: 'POST', body: JSON.stringify({ content: text, add_special: true }) })).json()) as { tokens: number[] };
    expect(tokens).toEqual(own.tokens);
    expect(tokens[0]).toBe(1); // <s>
    expect(tokens.length).toBeGreaterThan(3);
    const { text: back } = await model.ask(ModelMessage.Detokenize, { tokens: tokens.slice(1) });
    expect(back.trim()).toBe(text);
    expect((await model.ask(ModelMessage.Tokenize, { text: back.trim() })).tokens).toEqual(tokens);
  });

  it("info: the context is llama-server's per-slot n_ctx from /props, not the model's training context", async () => {
    const info = await (await models.ref('tiny-ls')).ask(ModelMessage.Info, null);
    const slots = await server.slots();
    expect(slots.map((slot) => slot.n_ctx)).toEqual([256, 256]); // -c 512 split over 2 slots
    expect(info).toMatchObject({
      engine: 'remote',
      contextSize: 256,
      trainContextSize: 512,
      vocabularySize: 512,
      embeddingSize: 64,
      slots: 2,
      remote: { baseURL: server.baseURL, model: 'tiny', vision: false },
    });
  });

  it('an image to a vision model on a llama-server without --mmproj is MODALITY_NOT_SUPPORTED quoting its answer', async () => {
    await publishRemote('tiny-blind', server.baseURL, { vision: true });
    const model = await models.ref('tiny-blind');
    const failure = await model.ask(ModelMessage.Generate, { messages: WITH_IMAGE, params: { maxTokens: 4 } }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'MODALITY_NOT_SUPPORTED', kind: 'invalid' });
    const message = String((failure as Error).message);
    expect(message).toContain(`model tiny-blind cannot take image input (the remote ${server.baseURL})`);
    expect(message).toContain('the remote refused it: 500 image input is not supported - hint: if this is unexpected, you may need to provide the mmproj');
    // Not retried: one request, one failure.
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 1, retries: 0, failures: 1, lastError: { code: 'MODALITY_NOT_SUPPORTED' } });
    // Streamed: no token, one error event with the same code.
    const events = [];
    for await (const event of model.stream(ModelMessage.Generate, { messages: WITH_IMAGE, params: { maxTokens: 4 } })) events.push(event);
    expect(events.map((e) => [e.type, e.code])).toEqual([['error', 'MODALITY_NOT_SUPPORTED']]);
    expect(events[0]?.error).toContain('image input is not supported');
  });

  it('an image to a model without vision is MODALITY_NOT_SUPPORTED before any request', async () => {
    const model = await models.ref('tiny-ls');
    const requests = (await model.ask(ModelMessage.Status, null)).remote?.requests;
    await expect(model.ask(ModelMessage.Generate, { messages: WITH_IMAGE, params: { maxTokens: 4 } })).rejects.toMatchObject({
      code: 'MODALITY_NOT_SUPPORTED',
      message: expect.stringMatching(/model tiny-ls cannot take image input \(messages\[0\]\.content\[1\]\): the remote model is not configured as a vision model/),
    });
    expect((await model.ask(ModelMessage.Status, null)).remote?.requests).toBe(requests);
  });

  it('a wrong API key is PROVIDER_AUTH_FAILED; the right one, read from the variable apiKeyEnv names, works', async () => {
    const secured = await startLlamaServer({ model: tiny, apiKey: KEY });
    stops.push(() => secured.stop());
    await publishRemote('tiny-wrong-key', secured.baseURL, {}, { apiKeyEnv: 'LS_WRONG' });
    await publishRemote('tiny-keyed', secured.baseURL, {}, { apiKeyEnv: 'LS_KEY' });
    await publishRemote('tiny-keyless', secured.baseURL);
    for (const id of ['tiny-wrong-key', 'tiny-keyless']) {
      const failure = await (await models.ref(id)).ask(ModelMessage.Generate, { prompt: 'hi', params: { maxTokens: 2 } }).catch((error: unknown) => error);
      expect(failure, id).toMatchObject({ code: 'PROVIDER_AUTH_FAILED', kind: 'bad_gateway', upstreamStatus: 401 });
      expect(String((failure as Error).message)).toMatch(/401 Invalid API Key/i);
    }
    const keyed = await models.ref('tiny-keyed');
    const result = await keyed.ask(ModelMessage.Generate, { messages: [{ role: 'user', content: 'hi' }], params: { maxTokens: 2 } });
    expect(result.usage.completionTokens).toBe(2);
    expect((await keyed.ask(ModelMessage.Tokenize, { text: 'hi' })).tokens.length).toBeGreaterThan(0);
    await secured.stop();
  });
});

describe('an image end to end, to a llama-server with a projector (--mmproj)', () => {
  let vision: LlamaServerProcess;
  let http: LlamaActorsServer;
  let url: string;

  beforeAll(async () => {
    vision = await startLlamaServer({ model: tiny, mmproj: await ensureTinyProjector() });
    stops.push(() => vision.stop());
    await publishRemote('tiny-vision', vision.baseURL, { vision: true });
    http = createServer({ router, models, sessions, store, port: 0, modelDirs: [] });
    url = await http.listen();
    stops.unshift(() => http.close());
  });

  it('Generate with an image part: an answer, and the image adds its tokens to the prompt', async () => {
    const model = await models.ref('tiny-vision');
    const withImage = await model.ask(ModelMessage.Generate, { messages: WITH_IMAGE, params: { maxTokens: 4, temperature: 0 } });
    const textOnly = await model.ask(ModelMessage.Generate, { messages: TEXT_ONLY, params: { maxTokens: 4, temperature: 0 } });
    expect(withImage.text.length).toBeGreaterThan(0);
    expect(withImage.usage.completionTokens).toBe(4);
    // (28 / 14)² patches of the generated projector, each one embedding in the prompt.
    expect(withImage.usage.promptTokens - textOnly.usage.promptTokens).toBe(4);
  });

  it('an OpenAI image_url data URL sent to our server reaches llama-server through the remote model', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
    const ask = (content: OpenAI.ChatCompletionUserMessageParam['content']) =>
      client.chat.completions.create({ model: 'tiny-vision', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content }] });
    const image = await ask([{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_2X2}` } }]);
    const text = await ask([{ type: 'text', text: 'What is this?' }]);
    expect(image.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(image.usage?.completion_tokens).toBe(4);
    expect(image.usage!.prompt_tokens - text.usage!.prompt_tokens).toBe(4);
    // Streamed too.
    const stream = await client.chat.completions.create({
      model: 'tiny-vision',
      max_tokens: 4,
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_2X2}` } }] }],
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed.length).toBeGreaterThan(0);
  });
});
