import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { embed, embedMany, generateObject, generateText, type LanguageModel, streamObject, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ModelInfo, ModelMessage } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible` and `@ai-sdk/openai`) against the
 * server on the generated tiny model. The model writes toy text, so these tests check structure:
 * text and usage add up, streamed deltas make the final text, objects parse and match their zod
 * schema (the server constrains the output with a grammar), embeddings are /v1/embeddings' vectors.
 * Every request the providers send is recorded, so a test also sees what went over the wire.
 */
let server: TestServer;
let embeddingSize: number;
const sent: Array<{ path: string; body: Record<string, unknown> }> = [];

const recordingFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
  sent.push({ path: new URL(url).pathname, body });
  return fetch(input, init);
};

/** The body of the last request sent to `path`. */
function lastBody(path: string): Record<string, unknown> {
  const request = sent.findLast((r) => r.path === path);
  expect(request, `a request to ${path}`).toBeDefined();
  return request?.body ?? {};
}

let compatible: ReturnType<typeof createOpenAICompatible>;
let openai: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  server = await startTestServer();
  const model = await server.models.ensureStarted('tiny');
  embeddingSize = (await server.router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 120_000 })).embeddingSize;
  compatible = createOpenAICompatible({
    name: 'llama-actors',
    baseURL: `${server.url}/v1`,
    apiKey: 'unused',
    includeUsage: true,
    supportsStructuredOutputs: true,
    fetch: recordingFetch,
  });
  openai = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', fetch: recordingFetch });
}, 300_000);

afterAll(async () => {
  await server?.dispose();
});

/** The three ways to reach the chat model: openai-compatible's chat model, openai.chat (Chat Completions), openai (Responses). */
const providers: Array<{ name: string; path: string; model: () => LanguageModel }> = [
  { name: '@ai-sdk/openai-compatible chatModel', path: '/v1/chat/completions', model: () => compatible.chatModel('tiny') },
  { name: '@ai-sdk/openai openai.chat', path: '/v1/chat/completions', model: () => openai.chat('tiny') },
  { name: '@ai-sdk/openai openai() (Responses API)', path: '/v1/responses', model: () => openai('tiny') },
];

const answer = z.object({
  ok: z.boolean(),
  mood: z.enum(['calm', 'busy', 'idle']),
  word: z.string().max(10),
});

describe.each(providers)('$name', ({ path, model }) => {

  it('generateText: text, finish reason length, usage in tokens', async () => {
    const result = await generateText({ model: model(), prompt: 'hello', maxOutputTokens: 6, temperature: 0, maxRetries: 0 });
    expect(lastBody(path)).toMatchObject({ model: 'tiny', temperature: 0 });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe('length');
    expect(result.usage.outputTokens).toBe(6);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.totalTokens).toBe((result.usage.inputTokens ?? 0) + 6);
  });

  it('streamText: the text deltas join to the final text; usage and finish reason as generateText gives them', async () => {
    const request = { model: model(), prompt: 'tell me about actors', maxOutputTokens: 10, temperature: 0, maxRetries: 0 };
    const whole = await generateText(request);
    const result = streamText({ ...request, onError: ({ error }) => expect.unreachable(String(error)) });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(lastBody(path)).toMatchObject({ stream: true });
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.join('')).toBe(await result.text);
    expect(await result.text).toBe(whole.text);
    expect(await result.finishReason).toBe('length');
    const usage = await result.usage;
    expect([usage.inputTokens, usage.outputTokens, usage.totalTokens]).toEqual([whole.usage.inputTokens, 10, (whole.usage.inputTokens ?? 0) + 10]);
  });

  it('generateObject with a zod schema: the schema goes out as a JSON schema, the object parses and matches it', async () => {
    const result = await generateObject({ model: model(), schema: answer, schemaName: 'answer', prompt: 'How are you?', maxOutputTokens: 120, temperature: 0, maxRetries: 0 });
    expect(answer.parse(result.object)).toEqual(result.object);
    expect(result.finishReason).toBe('stop');
    const body = lastBody(path);
    const schema = path === '/v1/responses' ? (body.text as { format: { schema: unknown } }).format.schema : (body.response_format as { json_schema: { schema: unknown } }).json_schema.schema;
    expect(schema).toMatchObject({ type: 'object', required: ['ok', 'mood', 'word'] });
  });

  it('streamObject: the partial objects grow to the final object, which matches the schema', async () => {
    const result = streamObject({ model: model(), schema: answer, prompt: 'How are you?', maxOutputTokens: 120, temperature: 0.7, seed: 3, maxRetries: 0, onError: ({ error }) => expect.unreachable(String(error)) });
    const partials: unknown[] = [];
    for await (const partial of result.partialObjectStream) partials.push(partial);
    const object = await result.object;
    expect(answer.parse(object)).toEqual(object);
    expect(partials.length).toBeGreaterThan(1);
    expect(partials.at(-1)).toEqual(object);
    expect(lastBody(path)).toMatchObject({ stream: true });
  });
});

describe('embed / embedMany', () => {
  async function serverVectors(input: string[]): Promise<number[][]> {
    const response = await fetch(`${server.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', input, encoding_format: 'float' }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data.map((d) => d.embedding);
  }

  it.each([
    ['@ai-sdk/openai-compatible', () => compatible.embeddingModel('tiny')],
    ['@ai-sdk/openai', () => openai.embedding('tiny')],
  ])('%s: vectors of the embedding size, non-zero, the server float vectors, with usage', async (_name, embeddingModel) => {
    const values = ['the actor', 'a mailbox', 'a supervisor'];
    const many = await embedMany({ model: embeddingModel(), values, maxRetries: 0 });
    const one = await embed({ model: embeddingModel(), value: 'the actor', maxRetries: 0 });
    expect(lastBody('/v1/embeddings')).toMatchObject({ model: 'tiny', input: ['the actor'], encoding_format: 'float' });
    const expected = await serverVectors(values);
    expect(embeddingSize).toBeGreaterThan(0);
    expect(many.embeddings).toHaveLength(3);
    for (const vector of [...many.embeddings, one.embedding]) {
      expect(vector).toHaveLength(embeddingSize);
      expect(vector.filter((v) => v !== 0).length).toBeGreaterThan(embeddingSize / 2);
    }
    expect(many.embeddings).toEqual(expected);
    expect(one.embedding).toEqual(expected[0]);
    expect(many.values).toEqual(values);
    expect(many.usage.tokens).toBeGreaterThan(0);
    expect(one.usage.tokens).toBeGreaterThan(0);
  });
});
