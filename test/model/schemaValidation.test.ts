import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI, { APIError } from 'openai';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * The routes' declared schemas at the boundary: a body that does not match is a 400 in its API's
 * own error shape (OpenAI `{error: {message, type, code, param}}`, Anthropic `{type: 'error', error}`,
 * Ollama `{error}`, this server's own routes OpenAI's), `INVALID_ARGUMENT`, its message naming the
 * field and the value, before any model work; a body that matches works as before.
 */
let server: TestServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ contextSize: 2048 });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  await server.models.ensureStarted('tiny');
  await server.sessions.create({ id: 'checked', model: 'tiny', params: { maxTokens: 2 } });
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

async function send(path: string, body: unknown, method = 'POST') {
  const response = await fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const user = [{ role: 'user', content: 'hi' }];

describe('bad bodies are 400s in the API’s shape naming the field and the value, before the model', () => {
  it('OpenAI: chat, completions, embeddings, responses', async () => {
    const before = (await server.status()).completed;
    const cases: Array<[string, object, string, string]> = [
      ['/v1/chat/completions', { model: 'tiny', messages: user, temperature: 3 }, 'temperature must be a number from 0 to 2, got 3', 'temperature'],
      ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user' }, { role: 'user', content: [{ type: 'text', text: 7 }] }] }, 'messages[1].content[0].text must be a string, got 7', 'messages[1].content[0].text'],
      ['/v1/chat/completions', { model: 'tiny', messages: user, max_tokens: '5' }, 'max_tokens must be a positive integer or null, got "5"', 'max_tokens'],
      ['/v1/completions', { model: 'tiny', prompt: 'x', n: 0 }, 'n must be an integer from 1 to 8, got 0', 'n'],
      ['/v1/embeddings', { model: 'tiny', input: ['a', 3] }, 'input[1] must be a string, got 3', 'input[1]'],
      ['/v1/responses', { model: 'tiny', input: 'hi', temperature: -1 }, 'temperature must be a number from 0 to 2, got -1', 'temperature'],
    ];
    for (const [path, body, message, param] of cases) {
      expect(await send(path, body), path).toEqual({ status: 400, body: { error: { message, type: 'invalid_request_error', code: 'INVALID_ARGUMENT', param } } });
    }
    // The openai client reads it as a BadRequestError with the field as its param.
    const error = await openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], top_p: 1.5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', param: 'top_p', message: expect.stringContaining('top_p must be a number from 0 to 1, got 1.5') as string });
    expect((await server.status()).completed).toBe(before);
  });

  it('Anthropic: max_tokens "x", a role, count_tokens', async () => {
    const anthropic = (message: string) => ({ status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message, code: 'INVALID_ARGUMENT' } } });
    expect(await send('/v1/messages', { model: 'tiny', max_tokens: 'x', messages: user })).toEqual(anthropic('max_tokens must be a positive integer, got "x"'));
    expect(await send('/v1/messages', { model: 'tiny', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] })).toEqual(
      anthropic('messages[0].role must be user or assistant, got "system"'),
    );
    expect(await send('/v1/messages/count_tokens', { model: 'tiny', messages: user, temperature: 1.5 })).toEqual(anthropic('temperature must be a number from 0 to 1, got 1.5'));
    const client = new Anthropic({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
    const refused = await client.messages.create({ model: 'tiny', max_tokens: 0, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { message: 'max_tokens must be a positive integer, got 0' } });
  });

  it('Ollama: options not an object, a message role; bad JSON is still the server’s own answer', async () => {
    expect(await send('/api/chat', { model: 'tiny', messages: user, options: 5 })).toEqual({ status: 400, body: { error: 'options must be an object or null, got 5' } });
    expect(await send('/api/generate', { model: 'tiny', prompt: 'x', options: { num_predict: 'many' } })).toEqual({
      status: 400,
      body: { error: 'options.num_predict must be an integer or null, got "many"' },
    });
    expect(await send('/api/embed', { model: 'tiny' })).toEqual({ status: 400, body: { error: 'input is required' } });
    const ollama = new Ollama({ host: server.url });
    await expect(ollama.chat({ model: 'tiny', messages: [{ role: 'robot', content: 'x' }], stream: false })).rejects.toMatchObject({
      status_code: 400,
      error: 'messages[0].role must be system, user, assistant or tool, got "robot"',
    });
    const badJson = await fetch(`${server.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT');
  });

  it('native routes: a session message without text, models, adapters, actors', async () => {
    const native = (message: string, param: string | null) => ({ status: 400, body: { error: { message, type: 'invalid_request_error', code: 'INVALID_ARGUMENT', param } } });
    expect(await send('/sessions/checked/messages', { params: { maxTokens: 2 }, stream: false })).toEqual(native('message is required', 'message'));
    expect(await send('/sessions/checked/messages', { message: 42, stream: false })).toEqual(native('message must be a string, got 42', 'message'));
    expect(await send('/sessions', { model: 'tiny', systemPrompt: ['be brief'] })).toEqual(native('systemPrompt must be a string, got ["be brief"]', 'systemPrompt'));
    expect(await send('/models', { id: 'x', provider: 'local' })).toEqual(native('path is required', 'path'));
    expect(await send('/models/tiny/adapters', { path: 'a.gguf', scale: 'big' }, 'PATCH')).toEqual(native('scale must be a number, got "big"', 'scale'));
    expect(await send('/actors/model/tiny/ask', { payload: {} })).toEqual(native('type is required', 'type'));
    expect(await send('/actors/model/tiny/ask', [])).toEqual(native('the request body must be a JSON object, got []', null));
  });
});

describe('good requests still work', () => {
  it('on every API, with nulls where OpenAI sends them', async () => {
    const chat = await send('/v1/chat/completions', { model: 'tiny', messages: user, max_tokens: 2, temperature: null, n: null, stop: null, user: 'u' });
    expect(chat.status).toBe(200);
    const anthropic = await send('/v1/messages', { model: 'tiny', max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], temperature: 0 });
    expect(anthropic).toMatchObject({ status: 200, body: { type: 'message' } });
    const ollama = await send('/api/chat', { model: 'tiny', messages: user, stream: false, options: { num_predict: 2, num_ctx: 4096, unknown_key: 'ignored' } });
    expect(ollama).toMatchObject({ status: 200, body: { done: true } });
    const turn = await send('/sessions/checked/messages', { message: 'hello', stream: false });
    expect(turn.status).toBe(200);
    // No body at all on a route whose body is optional.
    const removed = await fetch(`${server.url}/models/tiny/adapters`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
  });
});

describe('GET /openapi.json', () => {
  type Operation = { operationId: string; summary: string; requestBody?: { content: { 'application/json': { schema: object } } }; security?: unknown[] };
  type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>>; components?: unknown; security?: unknown };

  it('lists every route with its summary and the very schema the route validates with', async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Document;
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    const listed = new Set(operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`));
    for (const route of ['POST /v1/chat/completions', 'POST /v1/responses', 'GET /v1/responses/{id}', 'POST /v1/messages', 'POST /api/chat', 'POST /sessions/{id}/messages', 'GET /openapi.json']) {
      expect(listed, route).toContain(route);
    }
    // Every operation has a summary of its own and a unique id; every listed path is a route (not fastify's 404).
    expect(new Set(operations.map(({ op }) => op.operationId)).size).toBe(operations.length);
    for (const { path, method, op } of operations) {
      expect(op.summary, `${method} ${path}`).not.toMatch(/^(GET|POST|PUT|PATCH|DELETE) /);
      if (method !== 'get') continue;
      const probe = await fetch(`${server.url}${path.replaceAll(/\{[^}]+\}/g, 'nope')}`);
      const body = (await probe.text()).slice(0, 200);
      expect(body, `GET ${path}`).not.toContain('ROUTE_NOT_FOUND');
    }
    // The document's schema is the route's: a client validating with it refuses what the server refuses, accepts what it accepts.
    const chat = doc.paths['/v1/chat/completions']?.post?.requestBody?.content['application/json'].schema as object;
    const validate = new Ajv({ strict: false }).compile(chat);
    expect(validate({ model: 'tiny', messages: user, temperature: 3 })).toBe(false);
    expect((await send('/v1/chat/completions', { model: 'tiny', messages: user, temperature: 3 })).status).toBe(400);
    expect(validate({ model: 'tiny', messages: user, max_tokens: 1, temperature: null })).toBe(true);
    expect((await send('/v1/chat/completions', { model: 'tiny', messages: user, max_tokens: 1, temperature: null })).status).toBe(200);
  });

  it('with an API key: served without it, and says every other route needs it', async () => {
    const keyed = createServer({ router: server.router, models: server.models, sessions: server.sessions, port: 0, apiKey: 'secret' });
    const url = await keyed.listen();
    try {
      const doc = (await (await fetch(`${url}/openapi.json`)).json()) as Document;
      expect(doc.components).toMatchObject({ securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } });
      expect(doc.paths['/health']?.get?.security).toEqual([]);
      expect(doc.paths['/v1/chat/completions']?.post?.security).toBeUndefined();
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    } finally {
      await keyed.close();
    }
  });
});
