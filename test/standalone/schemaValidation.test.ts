import Fastify, { type FastifyInstance } from 'fastify';
import Type from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendError } from '../../src/server/httpErrors.js';
import { chatCompletionsSchema, completionsSchema } from '../../src/server/schemas/openai.js';
import { AJV_OPTIONS, describeSchema, primaryError, RequestValidationError, schemaErrorFormatter } from '../../src/server/schemas/validation.js';

/**
 * The mapping of ajv's errors to the server's typed 400s (src/server/schemas/validation.ts), on a
 * bare fastify with the server's ajv options and formatter: each message names the field path and
 * the value sent, `param` names the field, and the request reaches the handler exactly as sent.
 */

const probe = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  ratio: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  name: Type.Optional(Type.String({ minLength: 1 })),
  short: Type.Optional(Type.String({ maxLength: 3 })),
  kind: Type.Optional(Type.Enum(['a', 'b', 'c'])),
  list: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  nested: Type.Optional(Type.Object({ items: Type.Array(Type.Object({ id: Type.String(), 'odd key': Type.Optional(Type.Boolean()) })) })),
  ids: Type.Optional(Type.Record(Type.String(), Type.Number(), { propertyNames: { type: 'string', pattern: '^\\d+$', title: 'a number' }, maxProperties: 2 })),
  either: Type.Optional(Type.Union([Type.Literal('json'), Type.Object({})])),
  required: Type.Optional(Type.Object({ must: Type.String() })),
});

let app: FastifyInstance;
const seen: unknown[] = [];
beforeAll(async () => {
  app = Fastify({ ajv: AJV_OPTIONS, schemaErrorFormatter });
  app.setErrorHandler((error, _request, reply) => sendError(reply, error));
  const record = async (request: { body: unknown }) => {
    seen.push(request.body);
    return { ok: true };
  };
  app.post('/probe', { schema: { body: probe } }, record);
  app.post('/chat', { schema: chatCompletionsSchema }, record);
  app.post('/text', { schema: completionsSchema }, record);
  app.get('/query', { schema: { querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^\\d+$' })) }) } }, async () => ({ ok: true }));
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

async function post(url: string, body: unknown) {
  const response = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { status: response.statusCode, body: response.json<{ error?: { message: string; code: string; type: string; param: string | null } }>() };
}

const chat = (extra: object) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('ajv errors → typed 400s naming the field and the value', () => {
  it.each([
    [{ count: 9 }, 'count must be an integer from 1 to 8, got 9', 'count'],
    [{ count: 1.5 }, 'count must be an integer from 1 to 8, got 1.5', 'count'],
    [{ ratio: 3 }, 'ratio must be a number from 0 to 2, got 3', 'ratio'],
    [{ ratio: 'x' }, 'ratio must be a number from 0 to 2 or null, got "x"', 'ratio'],
    [{ name: '' }, 'name must be a non-empty string, got ""', 'name'],
    [{ short: 'long' }, 'short must be a string of at most 3 characters, got "long"', 'short'],
    [{ kind: 'd' }, 'kind must be a, b or c, got "d"', 'kind'],
    [{ list: [] }, 'list must be a non-empty array of strings, got []', 'list'],
    [{ list: ['a', 2] }, 'list[1] must be a string, got 2', 'list[1]'],
    [{ nested: { items: [{ id: 'a' }, {}] } }, 'nested.items[1].id is required', 'nested.items[1].id'],
    [{ nested: { items: [{ id: 'a', 'odd key': 1 }] } }, 'nested.items[0]["odd key"] must be a boolean, got 1', 'nested.items[0]["odd key"]'],
    [{ ids: { x: 1 } }, 'ids has a key "x" that is not a number', 'ids'],
    [{ ids: { 1: 1, 2: 2, 3: 3 } }, 'ids may have at most 2 keys, got 3', 'ids'],
    [{ ids: { 1: 'one' } }, 'ids[1] must be a number, got "one"', 'ids[1]'],
    [{ either: 'xml' }, 'either must be json or an object, got "xml"', 'either'],
    [{ required: {} }, 'required.must is required', 'required.must'],
  ])('%j → %s', async (body, message, param) => {
    const { status, body: answer } = await post('/probe', body);
    expect(status).toBe(400);
    expect(answer.error).toEqual({ message, type: 'invalid_request_error', code: 'INVALID_ARGUMENT', param });
  });

  it('the whole body: not an object, or missing', async () => {
    expect((await post('/probe', [1])).body.error).toMatchObject({ message: 'the request body must be a JSON object, got [1]', param: null });
    const missing = await app.inject({ method: 'POST', url: '/probe' });
    expect([missing.statusCode, missing.json<{ error: { message: string } }>().error.message]).toEqual([400, 'the request body must be a JSON object']);
  });

  it('a query parameter is named as one', async () => {
    const response = await app.inject({ method: 'GET', url: '/query?limit=ten' });
    expect(response.json<{ error: { message: string; param: string } }>().error).toMatchObject({
      message: 'query.limit must be a string matching /^\\d+$/, got "ten"',
      param: 'query.limit',
    });
  });

  it('the OpenAI chat schema: ranges, roles, content parts, logit_bias keys', async () => {
    const cases: Array<[object, string]> = [
      [chat({ temperature: 3 }), 'temperature must be a number from 0 to 2, got 3'],
      [chat({ n: 9 }), 'n must be an integer from 1 to 8, got 9'],
      [chat({ top_logprobs: 21 }), 'top_logprobs must be an integer from 0 to 20, got 21'],
      [chat({ frequency_penalty: -3 }), 'frequency_penalty must be a number from -2 to 2, got -3'],
      [chat({ logit_bias: { '42': 101 } }), 'logit_bias[42] must be a number from -100 to 100, got 101'],
      [chat({ logit_bias: { abc: 1 } }), 'logit_bias has a key "abc" that is not a token id (an integer ≥ 0)'],
      [chat({ logprobs: 6 }), 'logprobs must be an integer from 0 to 5, got 6'],
      [chat({ max_tokens: 0 }), 'max_tokens must be a positive integer, got 0'],
      [chat({ stop: ['a', 5] }), 'stop[1] must be a string, got 5'],
      [chat({ tool_choice: 'maybe' }), 'tool_choice must be auto, none, required or an object, got "maybe"'],
      [chat({ response_format: { type: 'xml' } }), 'response_format.type must be text, json_object or json_schema, got "xml"'],
      [chat({ messages: [] }), 'messages must be a non-empty array of objects, got []'],
      [chat({ messages: [{ role: 'robot', content: 'x' }] }), 'messages[0].role must be system, developer, user, assistant or tool, got "robot"'],
      [chat({ messages: [{ role: 'user', content: 5 }] }), 'messages[0].content must be a string, an array or null, got 5'],
      [chat({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }), 'messages[0].content[0].type must be text or image_url, got "input_audio"'],
      [chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }), 'messages[0].content[0].image_url.url is required'],
      [chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x', detail: 'max' } }] }] }), 'messages[0].content[0].image_url.detail must be auto, low, high or null, got "max"'],
      [chat({ messages: [{ role: 'user', content: [{ type: 'text', image_url: { url: 'x' } }] }] }), 'messages[0].content[0].text is required'],
      [{ messages: [{ role: 'user', content: 'x' }] }, 'model is required'],
    ];
    for (const [body, message] of cases) expect((await post('/chat', body)).body.error?.message, JSON.stringify(body)).toBe(message);
    expect((await post('/text', { model: 'm', prompt: ['a', 'b'] })).body.error?.message).toBe('prompt must be an array of one string, got ["a","b"]');
  });

  it('a valid body reaches the handler exactly as sent: no coercion, no defaults, nothing removed', async () => {
    // Fastify's default ajv would take "5" for 5 and one object for a one-item array.
    expect((await post('/chat', chat({ max_tokens: '5' }))).body.error?.message).toBe('max_tokens must be a positive integer or null, got "5"');
    expect((await post('/chat', chat({ messages: { role: 'user', content: 'x' } }))).body.error?.message).toMatch(/^messages must be a non-empty array/);
    seen.length = 0;
    const body = chat({ temperature: null, n: null, stop: 'x', extra: { kept: true }, messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }] });
    const accepted = await post('/chat', body);
    expect(accepted).toEqual({ status: 200, body: { ok: true } });
    expect(seen).toEqual([body]);
  });
});

describe('choosing the error and describing a schema', () => {
  const error = (keyword: string, instancePath: string) => ({ keyword, instancePath, schemaPath: '', params: {} });

  it('the deepest error wins; at one depth a failed constraint, then the union, then a bare type mismatch', () => {
    expect(primaryError([error('type', '/a'), error('maximum', '/a'), error('anyOf', '/a')])?.keyword).toBe('maximum');
    expect(primaryError([error('type', '/a'), error('type', '/a'), error('anyOf', '/a')])?.keyword).toBe('anyOf');
    expect(primaryError([error('type', '/a'), error('type', '/a/0/b'), error('anyOf', '/a')])?.instancePath).toBe('/a/0/b');
    // A missing field is one level below the object that lacks it.
    expect(primaryError([error('type', '/a/b'), error('required', '/a')])?.keyword).toBe('required');
    expect(primaryError([])).toBeUndefined();
  });

  it('says what a schema accepts', () => {
    expect(describeSchema(Type.Integer({ minimum: 1 }))).toBe('a positive integer');
    expect(describeSchema(Type.Number({ maximum: 5 }))).toBe('a number <= 5');
    expect(describeSchema(Type.Union([Type.String(), Type.Array(Type.String()), Type.Null()]))).toBe('a string, an array of strings or null');
    expect(describeSchema(Type.Union([Type.Enum(['auto', 'none']), Type.Literal('')]))).toBe('auto, none or ""');
    expect(describeSchema(Type.String({ title: 'a token id' }))).toBe('a token id');
  });

  it('a formatted error is INVALID_ARGUMENT with the field as its param', () => {
    const formatted = schemaErrorFormatter([{ ...error('type', '/x/0'), data: 'v', parentSchema: { type: 'number' } } as never], 'body');
    expect(formatted).toBeInstanceOf(RequestValidationError);
    expect(formatted).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'x[0] must be a number, got "v"', param: 'x[0]' });
  });
});
