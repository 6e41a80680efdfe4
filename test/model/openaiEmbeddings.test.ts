import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelInfo, ModelMessage } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * `/v1/embeddings` and `/v1/models/:id` as the official `openai` client calls them. The client
 * sends `encoding_format: 'base64'` unless told otherwise and decodes the reply as little-endian
 * float32 bytes: a server that answered floats to it handed the client a quarter as many numbers,
 * mostly zeros.
 */
let server: TestServer;
let client: OpenAI;
let embeddingSize: number;

beforeAll(async () => {
  server = await startTestServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const model = await server.models.ensureStarted('tiny');
  embeddingSize = (await server.router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 120_000 })).embeddingSize;
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

/** The rejection of `promise`, which must be an APIError. */
async function apiError(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}

describe('/v1/embeddings through the official client', () => {
  it("the client's default call (base64) gives the float vectors, full length, to float32 precision", async () => {
    expect(embeddingSize).toBeGreaterThan(0);
    const input = ['a', 'bb'];
    const decoded = await client.embeddings.create({ model: 'tiny', input }); // no encoding_format: the client asks for base64
    const floats = await client.embeddings.create({ model: 'tiny', input, encoding_format: 'float' });
    expect(decoded.data.map((d) => d.index)).toEqual([0, 1]);
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    for (const [i, { embedding }] of decoded.data.entries()) {
      const expected = floats.data[i]?.embedding ?? [];
      expect(expected).toHaveLength(embeddingSize);
      expect(embedding).toHaveLength(embeddingSize);
      expect(embedding.filter((v) => v !== 0).length).toBeGreaterThan(embeddingSize / 2);
      expect(embedding).toEqual(expected.map((v) => Math.fround(v)));
    }
    expect(decoded.data[0]?.embedding).not.toEqual(decoded.data[1]?.embedding);
    expect(decoded.usage).toEqual(floats.usage);
  });

  it('base64 on the wire is the little-endian float32 bytes of each vector', async () => {
    const post = (encoding_format: string) =>
      fetch(`${server.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', input: 'the actor', encoding_format }),
      }).then(async (response) => {
        expect(response.status).toBe(200);
        return ((await response.json()) as { data: Array<{ embedding: unknown }> }).data[0]?.embedding;
      });
    const base64 = await post('base64');
    const floats = (await post('float')) as number[];
    expect(typeof base64).toBe('string');
    const bytes = Buffer.from(base64 as string, 'base64');
    expect(bytes.length).toBe(4 * embeddingSize);
    expect(Array.from({ length: embeddingSize }, (_, i) => bytes.readFloatLE(4 * i))).toEqual(floats.map((v) => Math.fround(v)));
  });

  it('an encoding_format other than float or base64 is refused, 400 INVALID_ARGUMENT naming it', async () => {
    const error = await apiError(client.embeddings.create({ model: 'tiny', input: 'x', encoding_format: 'binary' as 'float' }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('binary');
  });

  it("dimensions: the model's own size is served; any other is refused, 400 UNSUPPORTED_DIMENSIONS naming both numbers", async () => {
    const same = await client.embeddings.create({ model: 'tiny', input: 'x', dimensions: embeddingSize });
    expect(same.data[0]?.embedding).toHaveLength(embeddingSize);

    const error = await apiError(client.embeddings.create({ model: 'tiny', input: 'x', dimensions: 8 }));
    expect(error.status).toBe(400);
    expect(error.code).toBe('UNSUPPORTED_DIMENSIONS');
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain('8');
    expect(error.message).toContain(String(embeddingSize));

    const notANumber = await apiError(client.embeddings.create({ model: 'tiny', input: 'x', dimensions: 1.5 }));
    expect([notANumber.status, notANumber.code]).toEqual([400, 'INVALID_ARGUMENT']);
  });

  it('LangChain OpenAIEmbeddings (when installed) gets the same vectors', async (ctx) => {
    const moduleName = '@langchain/openai';
    const langchain = (await import(/* @vite-ignore */ moduleName).catch(() => undefined)) as
      | { OpenAIEmbeddings: new (options: Record<string, unknown>) => { embedDocuments(texts: string[]): Promise<number[][]> } }
      | undefined;
    if (langchain === undefined) return ctx.skip();
    const embeddings = new langchain.OpenAIEmbeddings({ model: 'tiny', apiKey: 'unused', configuration: { baseURL: `${server.url}/v1` }, maxRetries: 0 });
    const vectors = await embeddings.embedDocuments(['a', 'bb']);
    const floats = await client.embeddings.create({ model: 'tiny', input: ['a', 'bb'], encoding_format: 'float' });
    expect(vectors).toEqual(floats.data.map((d) => d.embedding.map((v) => Math.fround(v))));
  });
});

describe('GET /v1/models/:id', () => {
  it('retrieve gives the model object of a published model, and 404 in the OpenAI error shape otherwise', async () => {
    expect(await client.models.retrieve('tiny')).toEqual({ id: 'tiny', object: 'model', created: 0, owned_by: 'llama-actors' });
    const listed = (await client.models.list()).data.find((m) => m.id === 'tiny');
    expect(listed).toEqual(await client.models.retrieve('tiny'));

    const error = await apiError(client.models.retrieve('nope'));
    expect(error.status).toBe(404);
    expect(error.code).toBe('ENTITY_NOT_FOUND');
    expect(error.type).toBe('not_found_error');
    expect(error.message).toContain('nope');
  });
});
