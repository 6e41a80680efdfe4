import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frames, greedy, startResponsesServer } from './helpers/responsesServer.js';
import type { TestServer } from './helpers/testServer.js';

/**
 * Function tools on the Responses API: forced calls (`tool_choice` required or named) whose
 * arguments parse and match the schema, a `function_call_output` continuing the call (by
 * `previous_response_id`, sent back, or by reference: the same prompt), and the streamed call events.
 */
let server: TestServer;
let client: OpenAI;
let post: (body: unknown, signal?: AbortSignal) => Promise<Response>;

beforeAll(async () => {
  // Tool definitions go into the prompt: a context larger than the default test server's.
  ({ server, client, post } = await startResponsesServer({ contextSize: 2048 }));
}, 300_000);

afterAll(async () => {
  await server?.dispose();
});

describe('function tools', () => {

  const weather: OpenAI.Responses.FunctionTool = {
    type: 'function',
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] }, days: { type: 'integer' } }, required: ['city', 'days'], additionalProperties: false },
    strict: true,
  };
  const time: OpenAI.Responses.FunctionTool = {
    type: 'function',
    name: 'get_time',
    description: 'The time now',
    parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } }, required: ['zone'], additionalProperties: false },
    strict: true,
  };
  const calls = (response: OpenAI.Responses.Response) => response.output.filter((item): item is OpenAI.Responses.ResponseFunctionToolCall => item.type === 'function_call');

  /** The arguments of a call to get_weather, checked against its schema. */
  function checkWeather(call: OpenAI.Responses.ResponseFunctionToolCall | undefined): void {
    expect(call?.name).toBe('get_weather');
    const args = JSON.parse(call!.arguments) as Record<string, unknown>;
    expect(Object.keys(args).sort()).toEqual(['city', 'days']);
    expect(['Paris', 'Oslo']).toContain(args.city);
    expect(Number.isInteger(args.days)).toBe(true);
  }

  it("tool_choice 'required': a function_call item whose arguments parse and match the schema; tools echoed", async () => {
    const response = await client.responses.create({ ...greedy, input: 'Weather in Paris?', tools: [weather], tool_choice: 'required', max_output_tokens: 100 });
    expect(response.status).toBe('completed');
    expect(response.tools).toEqual([weather]);
    expect(response.tool_choice).toBe('required');
    const [call] = calls(response);
    checkWeather(call);
    expect(call).toMatchObject({ type: 'function_call', status: 'completed' });
    expect(call!.id).toMatch(new RegExp(`^fc_${response.id.slice(5)}_\\d+$`));
    expect(call!.call_id.length).toBeGreaterThan(0);
  });

  it('a named tool_choice calls that function', async () => {
    const response = await client.responses.create({
      ...greedy,
      input: 'What time is it?',
      tools: [weather, time],
      tool_choice: { type: 'function', name: 'get_time' },
      max_output_tokens: 100,
    });
    expect(response.tool_choice).toEqual({ type: 'function', name: 'get_time' });
    const found = calls(response);
    expect(found.length).toBeGreaterThan(0);
    for (const call of found) {
      expect(call.name).toBe('get_time');
      expect(['UTC', 'CET']).toContain((JSON.parse(call.arguments) as { zone: string }).zone);
    }
  });

  it('a function_call_output continues the call: by previous_response_id or with the call sent back, the same prompt', async () => {
    const request = { ...greedy, tools: [weather], max_output_tokens: 6 };
    const first = await client.responses.create({ ...request, input: 'Weather in Paris?', tool_choice: 'required', max_output_tokens: 100 });
    const [call] = calls(first);
    checkWeather(call);
    const output = { type: 'function_call_output' as const, call_id: call!.call_id, output: '{"sky":"clear"}' };
    const next = await client.responses.create({ ...request, tool_choice: 'none', previous_response_id: first.id, input: [output] });
    expect(calls(next)).toEqual([]);
    expect(next.output_text.length).toBeGreaterThan(0);
    expect(next.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
    const sentBack = await client.responses.create({
      ...request,
      tool_choice: 'none',
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call!.call_id, name: call!.name, arguments: call!.arguments },
        output,
      ],
    });
    expect(sentBack.usage!.input_tokens).toBe(next.usage!.input_tokens);
    expect(sentBack.output_text).toBe(next.output_text);
    // The call as an item_reference: the same again.
    const referenced = await client.responses.create({
      ...request,
      tool_choice: 'none',
      input: [{ role: 'user', content: 'Weather in Paris?' }, { type: 'item_reference', id: call!.id! }, output],
    });
    expect(referenced.usage!.input_tokens).toBe(next.usage!.input_tokens);
  });

  it('streamed: output_item.added for the call, argument deltas joining to .done and the final item', async () => {
    const response = await post({ ...greedy, input: 'Weather in Oslo?', tools: [weather], tool_choice: 'required', max_output_tokens: 100, stream: true });
    const events = frames(await response.text());
    const types = events.map((e) => e.event);
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(types.at(-1)).toBe('response.completed');
    const added = events.find((e) => e.event === 'response.output_item.added' && (e.data.item as { type: string }).type === 'function_call')!.data;
    const item = added.item as { id: string; call_id: string; name: string };
    expect(item.name).toBe('get_weather');
    const deltas = events.filter((e) => e.event === 'response.function_call_arguments.delta' && e.data.item_id === item.id).map((e) => e.data.delta as string);
    const done = events.find((e) => e.event === 'response.function_call_arguments.done' && e.data.item_id === item.id)!.data;
    expect(deltas.join('')).toBe(done.arguments);
    const completed = events.at(-1)!.data.response as OpenAI.Responses.Response;
    const [call] = calls(completed);
    expect(call).toMatchObject({ id: item.id, call_id: item.call_id, arguments: done.arguments });
    checkWeather(call);
    // Through the client's stream helper too.
    const final = await client.responses.stream({ ...greedy, input: 'Weather in Oslo?', tools: [weather], tool_choice: 'required', max_output_tokens: 100 }).finalResponse();
    checkWeather(calls(final)[0]);
  });
  it('a call cut by max_output_tokens is incomplete, never a completed call with broken arguments', async () => {
    const request = { ...greedy, input: 'Weather in Oslo?', tools: [weather], tool_choice: 'required' as const, max_output_tokens: 6 };
    const whole = await client.responses.create(request);
    expect(whole.status).toBe('incomplete');
    expect(calls(whole).filter((call) => call.status === 'completed')).toEqual([]);
    const events = frames(await (await post({ ...request, stream: true })).text());
    expect(events.at(-1)!.event).toBe('response.incomplete');
    const streamed = calls(events.at(-1)!.data.response as OpenAI.Responses.Response);
    expect(streamed.length).toBeGreaterThan(0);
    for (const call of streamed) expect(call.status).toBe('incomplete');
    const done = events.filter((e) => e.event === 'response.output_item.done').map((e) => e.data.item as { type: string; status: string });
    expect(done.filter((item) => item.type === 'function_call').map((item) => item.status)).toEqual(streamed.map(() => 'incomplete'));
  });
});
