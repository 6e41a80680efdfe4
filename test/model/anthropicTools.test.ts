import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * Anthropic tool use through @anthropic-ai/sdk: `any` / a named tool force a `tool_use` block whose
 * input matches the schema (whole and streamed as input_json_delta), the loop with a tool_result
 * continues, and count_tokens counts the tools the model is shown.
 */

let server: TestServer;
let client: Anthropic;

beforeAll(async () => {
  server = await startTestServer({ contextSize: 2048 });
  client = new Anthropic({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.dispose());

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city', 'unit'] },
};
const question: Anthropic.MessageParam[] = [{ role: 'user', content: 'weather in paris?' }];

function expectWeather(input: unknown): void {
  const args = input as { city: unknown; unit: unknown };
  expect(Object.keys(args).sort()).toEqual(['city', 'unit']);
  expect(typeof args.city).toBe('string');
  expect((args.city as string).length).toBeLessThanOrEqual(12);
  expect(['c', 'f']).toContain(args.unit);
}

describe('Anthropic tool use', () => {
  it('tool_choice any: stop_reason tool_use and a tool_use block whose input matches the schema', async () => {
    const message = await client.messages.create({ model: 'tiny', max_tokens: 200, messages: question, tools: [weather], tool_choice: { type: 'any' } });
    expect(message.stop_reason).toBe('tool_use');
    const uses = message.content.filter((block) => block.type === 'tool_use');
    expect(uses).toHaveLength(1);
    expect(message.content.filter((block) => block.type === 'text')).toHaveLength(0);
    expect(uses[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', id: expect.stringMatching(/^call_/) });
    expectWeather(uses[0]?.input);
  });

  it('streams the call as a tool_use block of input_json_delta pieces; the SDK assembles the input', async () => {
    const stream = client.messages.stream({ model: 'tiny', max_tokens: 200, messages: question, tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } });
    const kinds: string[] = [];
    let partial = '';
    stream.on('streamEvent', (event) => {
      kinds.push(event.type === 'content_block_start' ? `start:${event.content_block.type}` : event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') partial += event.delta.partial_json;
    });
    const message = await stream.finalMessage();
    expect(kinds[0]).toBe('message_start');
    expect(kinds).toContain('start:tool_use');
    expect(kinds).not.toContain('start:text');
    expect(kinds.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(message.stop_reason).toBe('tool_use');
    const use = message.content.find((block) => block.type === 'tool_use');
    expectWeather(use?.type === 'tool_use' ? use.input : undefined);
    expect(JSON.parse(partial)).toEqual(use?.type === 'tool_use' ? use.input : undefined);
  });

  it('the loop continues with a tool_result; count_tokens counts the tools and the result', async () => {
    const first = await client.messages.create({ model: 'tiny', max_tokens: 200, messages: question, tools: [weather], tool_choice: { type: 'any' } });
    const use = first.content.find((block) => block.type === 'tool_use');
    if (use?.type !== 'tool_use') throw new Error('no tool_use');
    const messages: Anthropic.MessageParam[] = [
      ...question,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"temperature": 21}' }] },
    ];
    const answer = await client.messages.create({ model: 'tiny', max_tokens: 6, messages, tools: [weather], tool_choice: { type: 'none' } });
    expect(answer.stop_reason).toBe('max_tokens');
    expect(answer.content[0]?.type).toBe('text');
    const bare = await client.messages.countTokens({ model: 'tiny', messages: question });
    const withTools = await client.messages.countTokens({ model: 'tiny', messages: question, tools: [weather] });
    const withResult = await client.messages.countTokens({ model: 'tiny', messages, tools: [weather] });
    expect(withTools.input_tokens).toBeGreaterThan(bare.input_tokens + 10);
    expect(withResult.input_tokens).toBeGreaterThan(withTools.input_tokens);
    expect(answer.usage.input_tokens).toBe(withResult.input_tokens);
  });
});
