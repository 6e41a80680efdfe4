import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type GenerateResult,
  MessageRouter,
  ModelActor,
  ModelErrorCode,
  ModelMessage,
  type ModelStatus,
  UnsupportedSchemaError,
} from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';
import { getTestLlama } from './llama.js';

/**
 * JSON schema keywords the grammar does not enforce are refused up front (UNSUPPORTED_SCHEMA, 400,
 * naming the keyword's pointer), in process and over HTTP; supported schemas still constrain output.
 */

let llama: Llama;
let tinyPath: string;
const routers: MessageRouter[] = [];
const servers: TestServer[] = [];

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
});

afterEach(async () => {
  await Promise.all([...routers.splice(0).map((router) => router.dispose()), ...servers.splice(0).map((server) => server.dispose())]);
});

async function setup() {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  routers.push(router);
  const model = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 256, slots: 2 });
  const address = router.registerActor('model', model, model.actorOptions);
  await model.load();
  return { router, address };
}

/** A schema whose `minimum` the grammar would ignore (it let a model write `1.2E2859`). */
const withMinimum = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 8 }, age: { type: 'integer', minimum: 0 } },
  required: ['name', 'age'],
};

/** What the grammar enforces in full: the output must parse and match it. */
const supported = {
  type: 'object',
  properties: {
    answer: { enum: ['yes', 'no'] },
    count: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 2 },
    note: { anyOf: [{ type: 'string', maxLength: 6 }, { type: 'integer' }] },
  },
  required: ['answer', 'count', 'tags', 'note'],
  additionalProperties: false,
};

function expectMatchesSupported(text: string): void {
  const value = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(value).sort()).toEqual(['answer', 'count', 'note', 'tags']);
  expect(['yes', 'no']).toContain(value.answer);
  expect(Number.isInteger(value.count)).toBe(true);
  expect(Array.isArray(value.tags)).toBe(true);
  const tags = value.tags as unknown[];
  expect(tags.length).toBeLessThanOrEqual(2);
  for (const tag of tags) expect(typeof tag === 'string' && tag.length <= 4).toBe(true);
  // Compiled as oneOf: the grammar compiler alone ignores anyOf and writes null.
  expect(Number.isInteger(value.note) || (typeof value.note === 'string' && value.note.length <= 6)).toBe(true);
}

describe('JSON schema keywords: enforced or refused', () => {
  it('in process: an unsupported keyword is a typed error naming its pointer, before a slot is taken', async () => {
    const { router, address } = await setup();
    const asked = router.ask<GenerateResult>(address, ModelMessage.Generate, {
      prompt: 'Reply in JSON:',
      params: { maxTokens: 40, temperature: 0, jsonSchema: withMinimum },
    });
    await expect(asked).rejects.toBeInstanceOf(UnsupportedSchemaError);
    await expect(asked).rejects.toMatchObject({
      code: ModelErrorCode.UnsupportedSchema,
      kind: 'invalid',
      keyword: 'minimum',
      pointer: '/properties/age/minimum',
    });
    const status = await router.ask<ModelStatus>(address, ModelMessage.Status, null);
    expect(status.busySlots).toBe(0);
  });

  it('in process: a supported schema generates JSON that parses and matches it', async () => {
    const { router, address } = await setup();
    for (const seed of [1, 2, 3]) {
      const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
        prompt: 'Reply in JSON:',
        params: { maxTokens: 80, temperature: 0.8, seed, jsonSchema: supported },
      });
      expectMatchesSupported(result.text);
    }
  });

  it('over HTTP: response_format json_schema with minimum is 400 UNSUPPORTED_SCHEMA naming the pointer', async () => {
    const server = await startTestServer();
    servers.push(server);
    const post = (schema: object) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'tiny',
          messages: [{ role: 'user', content: 'Reply in JSON' }],
          max_tokens: 80,
          temperature: 0,
          response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
        }),
        signal: AbortSignal.timeout(60_000),
      });
    const refused = await post(withMinimum);
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('UNSUPPORTED_SCHEMA');
    expect(body.error.message).toContain('/properties/age/minimum');

    const pattern = await post({ type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } });
    expect(pattern.status).toBe(400);
    expect(((await pattern.json()) as { error: { message: string } }).error.message).toContain('/properties/id/pattern');

    const accepted = await post(supported);
    expect(accepted.status).toBe(200);
    const completion = (await accepted.json()) as { choices: { message: { content: string } }[] };
    expectMatchesSupported(completion.choices[0]?.message.content ?? '');
  });
});
