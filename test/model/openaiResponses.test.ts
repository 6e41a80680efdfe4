import { createOpenAI } from '@ai-sdk/openai';
import { generateText, type ModelMessage, streamText } from 'ai';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, frames, greedy, startResponsesServer } from './helpers/responsesServer.js';
import type { TestServer } from './helpers/testServer.js';

/**
 * The OpenAI Responses API (`/v1/responses`) through the `openai` client's `responses.create` /
 * `responses.stream`, the AI SDK's default provider, and raw fetch for what the clients hide (the
 * wire's event names, refusals). The tiny model writes toy text, so the tests check structure:
 * token counts show what the model was given, greedy replies compare the routes, grammar-constrained
 * output parses. Stored responses: openaiResponsesStore.test.ts; function tools: openaiResponsesTools.test.ts.
 */
let server: TestServer;
let client: OpenAI;
let post: (body: unknown, signal?: AbortSignal) => Promise<Response>;

beforeAll(async () => {
  ({ server, client, post } = await startResponsesServer());
}, 300_000);

afterAll(async () => {
  await server?.dispose();
});

type Params = OpenAI.Responses.ResponseCreateParamsNonStreaming;

describe('POST /v1/responses: text', () => {
  it('a string input: a Response object with one output message, output_text and usage', async () => {
    const response = await client.responses.create({ ...greedy, input: 'hello there', max_output_tokens: 6, metadata: { run: 'a' }, user: 'u1' });
    expect(response.id).toMatch(/^resp_[0-9A-Za-z]{24}$/);
    expect(response).toMatchObject({
      object: 'response',
      model: 'tiny',
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      error: null,
      instructions: null,
      max_output_tokens: 6,
      metadata: { run: 'a' },
      user: 'u1',
      store: true,
      temperature: 0,
      tools: [],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      previous_response_id: null,
      text: { format: { type: 'text' } },
      truncation: 'disabled',
    });
    expect(response.created_at).toBeGreaterThan(1_700_000_000);
    expect(response.output).toHaveLength(1);
    const [message] = response.output;
    expect(message).toMatchObject({ type: 'message', role: 'assistant', status: 'incomplete' });
    expect(message?.id).toMatch(new RegExp(`^msg_${response.id.slice(5)}_0$`));
    const text = message?.type === 'message' ? message.content.map((part) => (part.type === 'output_text' ? part.text : '')).join('') : '';
    expect(text.length).toBeGreaterThan(0);
    expect(response.output_text).toBe(text);
    expect(response.usage).toMatchObject({ output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 } });
    expect(response.usage!.input_tokens).toBeGreaterThan(0);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + 6);
    expect(response.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(0);
  });
});

describe('POST /v1/responses: input forms and instructions', () => {
  it('a message array (with or without type: message, string or input_text parts) is the same prompt as the string', async () => {
    const base = { ...greedy, max_output_tokens: 4 };
    const plain = await client.responses.create({ ...base, input: 'hello there' });
    const forms: Params['input'][] = [
      [{ role: 'user', content: 'hello there' }],
      [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello ' }, { type: 'input_text', text: 'there' }] }],
    ];
    for (const input of forms) {
      const other = await client.responses.create({ ...base, input });
      expect(other.usage!.input_tokens).toBe(plain.usage!.input_tokens);
      expect(other.output_text).toBe(plain.output_text);
    }
    // A multi-turn array: the earlier turns reach the prompt.
    const turns = await client.responses.create({
      ...base,
      input: [
        { role: 'user', content: 'one' },
        { role: 'assistant', content: [{ type: 'output_text', text: 'two', annotations: [] }] },
        { role: 'user', content: 'hello there' },
      ] as Params['input'],
    });
    expect(turns.usage!.input_tokens).toBeGreaterThan(plain.usage!.input_tokens);
  });

  it('instructions are a system message before the input (developer and system roles are the same), echoed', async () => {
    const base = { ...greedy, max_output_tokens: 4, input: 'hello there' };
    const plain = await client.responses.create(base);
    const instructed = await client.responses.create({ ...base, instructions: 'You are terse.' });
    expect(instructed.instructions).toBe('You are terse.');
    expect(instructed.usage!.input_tokens).toBeGreaterThan(plain.usage!.input_tokens);
    for (const role of ['system', 'developer'] as const) {
      const asMessage = await client.responses.create({ ...greedy, max_output_tokens: 4, input: [{ role, content: 'You are terse.' }, { role: 'user', content: 'hello there' }] });
      expect(asMessage.usage!.input_tokens).toBe(instructed.usage!.input_tokens);
      expect(asMessage.output_text).toBe(instructed.output_text);
    }
  });
});

describe('POST /v1/responses: stream', () => {
  it('responses.stream: the lifecycle events in order, the deltas join to output_text, the greedy text is the whole reply’s', async () => {
    const request = { ...greedy, input: 'hello', max_output_tokens: 8 };
    const stream = client.responses.stream(request);
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    stream.on('event', (event) => {
      types.push(event.type);
      sequence.push(event.sequence_number);
    });
    stream.on('response.output_text.delta', (event) => {
      text += event.delta;
    });
    const final = await stream.finalResponse();
    expect(text.length).toBeGreaterThan(0);
    expect(final.output_text).toBe(text);
    expect(final).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 8 } });
    expect(sequence).toEqual(types.map((_, i) => i));
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
    expect(new Set(types.slice(4, -4))).toEqual(new Set(['response.output_text.delta']));
    const whole = await client.responses.create(request);
    expect(whole.output_text).toBe(text);
    // The streamed response is stored like a whole one.
    expect((await client.responses.retrieve(final.id)).output_text).toBe(text);
  });

  it('on the wire: every frame is named by its type, items and parts carry their indices, completed carries the response', async () => {
    const response = await post({ ...greedy, input: 'hello', stream: true, text: { format: { type: 'json_object' } }, max_output_tokens: 60 });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = frames(await response.text());
    for (const { event, data } of events) expect(data.type).toBe(event);
    const added = events.find((e) => e.event === 'response.output_item.added')!.data;
    expect(added).toMatchObject({ output_index: 0, item: { type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    const deltas = events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data);
    for (const delta of deltas) expect(delta).toMatchObject({ item_id: (added.item as { id: string }).id, output_index: 0, content_index: 0 });
    const done = events.find((e) => e.event === 'response.output_text.done')!.data;
    expect(done.text).toBe(deltas.map((d) => d.delta).join(''));
    const last = events.at(-1)!;
    expect(last.event).toBe('response.completed');
    const completed = last.data.response as OpenAI.Responses.Response;
    expect(completed).toMatchObject({ status: 'completed', incomplete_details: null, output: [{ type: 'message', status: 'completed' }] });
    expect(completed.output_text).toBe(done.text);
    expect(JSON.parse(completed.output_text)).toBeTypeOf('object');
  });
});

describe('POST /v1/responses: limits and formats', () => {
  it('max_output_tokens ends the reply incomplete; a reply that ends by itself is completed', async () => {
    const cut = await client.responses.create({ ...greedy, input: 'hi', max_output_tokens: 3 });
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { output_tokens: 3 } });
    const ended = await client.responses.create({ ...greedy, input: 'hi', max_output_tokens: 60, text: { format: { type: 'json_object' } } });
    expect(ended).toMatchObject({ status: 'completed', incomplete_details: null, output: [{ status: 'completed' }] });
    expect(ended.usage!.output_tokens).toBeLessThan(60);
  });

  it('text.format json_schema: the output parses and matches the schema, and the format is echoed', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', enum: ['Ada', 'Alan'] }, age: { type: 'integer' }, admin: { type: 'boolean' } },
      required: ['name', 'age', 'admin'],
      additionalProperties: false,
    };
    const response = await client.responses.create({
      ...greedy,
      input: 'describe someone',
      max_output_tokens: 200,
      text: { format: { type: 'json_schema', name: 'person', schema, strict: true } },
    });
    expect(response.status).toBe('completed');
    expect(response.text?.format).toMatchObject({ type: 'json_schema', name: 'person', strict: true, schema });
    const value = JSON.parse(response.output_text) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(['admin', 'age', 'name']);
    expect(['Ada', 'Alan']).toContain(value.name);
    expect(Number.isInteger(value.age)).toBe(true);
    expect(typeof value.admin).toBe('boolean');
  });
});

describe('refusals and errors', () => {
  it('what the route cannot honour is 400 UNSUPPORTED_PARAMETER naming it, before any generation', async () => {
    const refused: Array<[body: Record<string, unknown>, named: string]> = [
      [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }, 'input[0].content[0].file_id'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input_file'],
      [{ input: [{ type: 'reasoning', id: 'rs_1', summary: [] }] }, 'input[0]'],
      [{ tools: [{ type: 'web_search' }] }, 'tools[0]'],
      [{ tools: [{ type: 'function', name: 'f', parameters: {} }], tool_choice: { type: 'file_search' } }, 'tool_choice'],
      [{ reasoning: { effort: 'low' } }, 'reasoning'],
      [{ truncation: 'auto' }, 'truncation'],
      [{ background: true }, 'background'],
      [{ include: ['message.output_text.logprobs'] }, 'include'],
      [{ top_logprobs: 3 }, 'top_logprobs'],
      [{ conversation: 'conv_1' }, 'conversation'],
      [{ max_tool_calls: 2 }, 'max_tool_calls'],
      [{ service_tier: 'flex' }, 'service_tier'],
      [{ text: { verbosity: 'low' } }, 'text.verbosity'],
      [{ stream_options: { include_obfuscation: true } }, 'stream_options'],
      [{ frequency_penalty: 1 }, 'frequency_penalty'],
      [{ input: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'prefill' }] }, 'input'],
    ];
    const before = await server.status();
    for (const [extra, named] of refused) {
      const response = await post({ model: 'tiny', input: 'hi', max_output_tokens: 2, ...extra });
      expect(response.status, JSON.stringify(extra)).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; type: string; message: string } };
      expect(error, JSON.stringify(extra)).toMatchObject({ code: 'UNSUPPORTED_PARAMETER', type: 'invalid_request_error' });
      expect(error.message).toContain(named);
    }
    expect((await server.status()).completed).toBe(before.completed);
    // Accepted as what they are: nothing asked for that is not done.
    const accepted = await client.responses.create({
      ...greedy,
      input: 'hi',
      max_output_tokens: 2,
      truncation: 'disabled',
      service_tier: 'auto',
      include: [],
      reasoning: {},
      top_logprobs: 0,
      background: false,
      prompt_cache_key: 'k',
      safety_identifier: 's',
    });
    expect(accepted).toMatchObject({ status: 'incomplete', prompt_cache_key: 'k', safety_identifier: 's', service_tier: 'default' });
  });

  it('malformed values are 400 INVALID_ARGUMENT naming the value; an unknown model 404', async () => {
    const invalid: Array<[body: Record<string, unknown>, named: string]> = [
      [{ input: 42 }, 'input must be'],
      [{ input: [{ role: 'robot', content: 'hi' }] }, '"robot"'],
      [{ max_output_tokens: 0 }, 'max_output_tokens must be a positive integer, got 0'],
      [{ temperature: 'hot' }, '"hot"'],
      [{ text: { format: { type: 'xml' } } }, '"xml"'],
      [{ text: { format: { type: 'json_schema', name: 'bad name!', schema: { type: 'object' } } } }, '"bad name!"'],
      [{ tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }, '"g"'],
      [{ metadata: { k: 1 } }, 'metadata.k'],
    ];
    for (const [extra, named] of invalid) {
      const response = await post({ model: 'tiny', input: 'hi', max_output_tokens: 2, ...extra });
      expect(response.status, JSON.stringify(extra)).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code, JSON.stringify(extra)).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(named);
    }
    const unknown = await failure(client.responses.create({ model: 'nope', input: 'hi' }));
    expect(unknown.status).toBe(404);
    expect((await post({ model: 'nope', input: 'hi', stream: true })).status).toBe(404);
  });

  it('a client that disconnects mid-stream frees its slot, and its response is not stored', async () => {
    const generatedBefore = (await server.status()).tokensGenerated;
    const controller = new AbortController();
    const response = await post({ model: 'tiny', input: 'tell me a long story', max_output_tokens: 400, stream: true }, controller.signal);
    const reader = response.body!.getReader();
    let seen = '';
    while (!seen.includes('response.output_text.delta')) seen += new TextDecoder().decode((await reader.read()).value);
    const id = /"id":"(resp_[0-9A-Za-z]+)"/.exec(seen)![1]!;
    expect((await server.status()).busySlots).toBe(1);
    controller.abort();
    await reader.cancel().catch(() => {});
    const deadline = Date.now() + 10_000;
    while ((await server.status()).busySlots > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const status = await server.status();
    expect(status.busySlots).toBe(0);
    // Cancelled, not run to its 400 tokens.
    expect(status.tokensGenerated - generatedBefore).toBeLessThan(400);
    expect((await fetch(`${server.url}/v1/responses/${id}`)).status).toBe(404);
  });
});

describe('the AI SDK’s default OpenAI provider (the Responses API)', () => {
  it('generateText, a second turn from response.messages (sent as item_reference), and streamText', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const openai = createOpenAI({
      baseURL: `${server.url}/v1`,
      apiKey: 'unused',
      fetch: async (input, init) => {
        if (typeof init?.body === 'string') sent.push(JSON.parse(init.body) as Record<string, unknown>);
        return fetch(input, init);
      },
    });
    const model = openai('tiny');
    const first = await generateText({ model, prompt: 'hello', maxOutputTokens: 5, temperature: 0 });
    expect(first.text.length).toBeGreaterThan(0);
    expect(first.finishReason).toBe('length');
    expect(first.usage).toMatchObject({ outputTokens: 5 });
    expect(first.response.id).toMatch(/^resp_/);
    const messages: ModelMessage[] = [{ role: 'user', content: 'hello' }, ...first.response.messages, { role: 'user', content: 'and then?' }];
    const second = await generateText({ model, messages, maxOutputTokens: 5, temperature: 0 });
    expect((sent.at(-1)!.input as Array<{ type?: string }>).some((item) => item.type === 'item_reference')).toBe(true);
    const explicit = await client.responses.create({
      ...greedy,
      max_output_tokens: 5,
      input: [
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: first.text },
        { role: 'user', content: 'and then?' },
      ],
    });
    expect(second.usage.inputTokens).toBe(explicit.usage!.input_tokens);
    expect(second.text).toBe(explicit.output_text);

    const streamed = streamText({ model, prompt: 'hello', maxOutputTokens: 5, temperature: 0 });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe(first.text);
    expect(await streamed.finishReason).toBe('length');
  });
});
