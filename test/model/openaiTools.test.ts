import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * OpenAI tool calling with the official client: forced calls parse and match the schema, stream as
 * `delta.tool_calls` pieces in OpenAI's shape, and the agent loop (call → tool result → answer)
 * completes; malformed tool messages and unsupported tool kinds are 400s that name the field.
 */

let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ contextSize: 2048 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => server.dispose());

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const clock: ChatCompletionTool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
const question: ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in paris?' }];

function expectWeather(text: string): void {
  const args = JSON.parse(text) as { city: unknown; unit: unknown };
  expect(Object.keys(args).sort()).toEqual(['city', 'unit']);
  expect(typeof args.city).toBe('string');
  expect((args.city as string).length).toBeLessThanOrEqual(12);
  expect(['c', 'f']).toContain(args.unit);
}

describe('OpenAI tool calls', () => {
  it('tool_choice required: finish_reason tool_calls, content null, a call that parses and matches', async () => {
    const completion = await client.chat.completions.create({ model: 'tiny', messages: question, tools: [weather, clock], tool_choice: 'required', max_tokens: 200, seed: 3 });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    expect(call?.id).toMatch(/^call_/);
    if (call?.type !== 'function') throw new Error('no function call');
    expect(['get_weather', 'get_time']).toContain(call.function.name);
    if (call.function.name === 'get_weather') expectWeather(call.function.arguments);
    else expect(JSON.parse(call.function.arguments)).toEqual({});
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('a named tool_choice calls that tool', async () => {
    const completion = await client.chat.completions.create({
      model: 'tiny',
      messages: question,
      tools: [weather, clock],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 200,
      temperature: 1,
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.function.name).toBe('get_weather');
    expectWeather(call.function.arguments);
  });

  it('streams delta.tool_calls: the first piece has id, type and name, the argument pieces join to JSON that matches', async () => {
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: question,
      tools: [weather],
      tool_choice: 'required',
      max_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: NonNullable<OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta['tool_calls']> = [];
    const finishes: (string | null)[] = [];
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      for (const choice of chunk.choices) {
        deltas.push(...(choice.delta.tool_calls ?? []));
        expect(choice.delta.content ?? '').toBe('');
        if (choice.finish_reason) finishes.push(choice.finish_reason);
      }
      usage ??= chunk.usage;
    }
    expect(finishes).toEqual(['tool_calls']);
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas[0]?.id).toMatch(/^call_/);
    expect(deltas.slice(1).every((d) => d.index === 0 && d.id === undefined && d.function?.name === undefined)).toBe(true);
    expectWeather(deltas.map((d) => d.function?.arguments ?? '').join(''));
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('the agent loop completes: call → tool result → an answer in text', async () => {
    const messages: ChatCompletionMessageParam[] = [...question];
    const first = await client.chat.completions.create({ model: 'tiny', messages, tools: [weather], tool_choice: 'required', max_tokens: 200 });
    const message = first.choices[0]!.message;
    messages.push(message);
    for (const call of message.tool_calls ?? []) messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) });
    const second = await client.chat.completions.create({ model: 'tiny', messages, tools: [weather], tool_choice: 'none', max_tokens: 8 });
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
    expect(second.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(second.usage!.prompt_tokens).toBeGreaterThan(first.usage!.prompt_tokens);
    // Also with auto (the toy model answers in text or calls again; either is well formed).
    const third = await client.chat.completions.create({ model: 'tiny', messages, tools: [weather], max_tokens: 8 });
    expect(['stop', 'length', 'tool_calls']).toContain(third.choices[0]?.finish_reason);
  });

  it('refuses malformed tool conversations and unsupported tool fields with a 400 naming them', async () => {
    const post = async (body: object) => {
      const response = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', max_tokens: 4, ...body }),
      });
      return { status: response.status, error: ((await response.json()) as { error: { message: string; code: string } }).error };
    };
    const stray = await post({ messages: [...question, { role: 'tool', tool_call_id: 'call_x', content: '1' }] });
    expect(stray.status).toBe(400);
    expect(stray.error.message).toContain('messages[1]: tool message for "call_x"');
    const noId = await post({ messages: [...question, { role: 'tool', content: '1' }] });
    expect(noId.error.message).toContain('messages[1].tool_call_id must be a string');
    const unanswered = await post({
      messages: [...question, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] }, { role: 'user', content: '?' }],
      tools: [weather],
    });
    expect(unanswered.status).toBe(400);
    expect(unanswered.error.message).toContain('"c1" has no tool message');
    const unknown = await post({ messages: question, tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } });
    expect(unknown.status).toBe(400);
    expect(unknown.error.code).toBe('INVALID_PARAMETER');
    const kind = await post({ messages: question, tools: [{ type: 'custom', custom: { name: 'x' } }] });
    expect(kind).toMatchObject({ status: 400, error: { code: 'UNSUPPORTED_PARAMETER' } });
    const legacy = await post({ messages: question, functions: [{ name: 'x' }] });
    expect(legacy).toMatchObject({ status: 400, error: { code: 'UNSUPPORTED_PARAMETER' } });
    const choiceWithoutTools = await post({ messages: question, tool_choice: 'required' });
    expect(choiceWithoutTools.status).toBe(400);
    const onText = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'x', tools: [weather], max_tokens: 2 }),
    });
    expect(onText.status).toBe(400);
    // Nothing held: the slots are free.
    expect((await server.status()).busySlots).toBe(0);
  });
});
