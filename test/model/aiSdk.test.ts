import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { embed, embedMany, generateObject, generateText, type LanguageModel, stepCountIs, streamObject, streamText, tool } from 'ai';
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
  // 2048 tokens of context: tool definitions go into the prompt, over the default 512.
  server = await startTestServer({ contextSize: 2048 });
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

describe.each(providers)('tools through $name', ({ path, model }) => {
  const weatherInput = z.object({ city: z.string().max(12), unit: z.enum(['celsius', 'fahrenheit']) });
  const timeInput = z.object({ zone: z.enum(['UTC', 'CET', 'PST']) });

  /** Two tools whose `execute` records its input, so a test sees what ran. */
  function tools() {
    const ran: Array<{ tool: string; input: unknown }> = [];
    return {
      ran,
      tools: {
        get_weather: tool({
          description: 'The weather in a city',
          inputSchema: weatherInput,
          execute: async (input) => {
            ran.push({ tool: 'get_weather', input });
            return { city: input.city, degrees: 21, unit: input.unit };
          },
        }),
        get_time: tool({
          description: 'The time in a zone',
          inputSchema: timeInput,
          execute: async (input) => {
            ran.push({ tool: 'get_time', input });
            return { time: `12:00 ${input.zone}` };
          },
        }),
      },
    };
  }

  /** The tool names the last request declared (Chat Completions nests them under `function`). */
  const declared = () => (lastBody(path).tools as Array<{ name?: string; function?: { name: string } }>).map((t) => t.function?.name ?? t.name);

  it("generateText with toolChoice 'required': a call whose input matches the schema, execute runs with it", async () => {
    const { ran, tools: toolSet } = tools();
    const result = await generateText({ model: model(), tools: toolSet, toolChoice: 'required', prompt: 'Weather in Paris?', maxOutputTokens: 120, temperature: 0, maxRetries: 0 });
    expect(declared()).toEqual(['get_weather', 'get_time']);
    expect(lastBody(path).tool_choice).toBe('required');
    expect(result.finishReason).toBe('tool-calls');
    expect(result.steps).toHaveLength(1); // no stopWhen: one step
    expect(result.toolCalls.length).toBeGreaterThan(0);
    for (const call of result.toolCalls) {
      expect(['get_weather', 'get_time']).toContain(call.toolName);
      expect(call.invalid ?? false).toBe(false);
      const schema = call.toolName === 'get_weather' ? weatherInput : timeInput;
      expect(schema.safeParse(call.input).error).toBeUndefined();
    }
    expect(ran).toEqual(result.toolCalls.map((call) => ({ tool: call.toolName, input: call.input })));
    expect(result.toolResults.map((r) => r.toolCallId)).toEqual(result.toolCalls.map((c) => c.toolCallId));
  });

  it("toolChoice {type: 'tool', toolName}: only that tool is called", async () => {
    const { ran, tools: toolSet } = tools();
    const result = await generateText({
      model: model(),
      tools: toolSet,
      toolChoice: { type: 'tool', toolName: 'get_time' },
      prompt: 'What time is it?',
      maxOutputTokens: 120,
      temperature: 0,
      maxRetries: 0,
    });
    const choice = lastBody(path).tool_choice;
    expect(choice).toEqual(path === '/v1/responses' ? { type: 'function', name: 'get_time' } : { type: 'function', function: { name: 'get_time' } });
    expect(result.toolCalls.map((call) => call.toolName)).toEqual(['get_time']);
    expect(timeInput.parse(result.toolCalls[0]?.input)).toEqual(result.toolCalls[0]?.input);
    expect(ran.map((r) => r.tool)).toEqual(['get_time']);
    expect(result.toolResults[0]?.output).toEqual({ time: `12:00 ${(result.toolCalls[0]?.input as { zone: string }).zone}` });
  });

  it("streamText with toolChoice 'required': tool-call and tool-result parts, the input schema-valid", async () => {
    const { ran, tools: toolSet } = tools();
    const result = streamText({
      model: model(),
      tools: toolSet,
      toolChoice: 'required',
      prompt: 'Weather in Paris?',
      maxOutputTokens: 120,
      temperature: 0,
      maxRetries: 0,
      onError: ({ error }) => expect.unreachable(String(error)),
    });
    const parts: Array<{ type: string; toolName?: string; input?: unknown }> = [];
    for await (const part of result.fullStream) parts.push(part as (typeof parts)[number]);
    expect(lastBody(path)).toMatchObject({ stream: true, tool_choice: 'required' });
    const calls = parts.filter((p) => p.type === 'tool-call');
    expect(calls.length).toBeGreaterThan(0);
    expect(parts.filter((p) => p.type === 'tool-result')).toHaveLength(calls.length);
    expect(await result.finishReason).toBe('tool-calls');
    for (const call of calls) {
      const schema = call.toolName === 'get_weather' ? weatherInput : timeInput;
      expect(schema.safeParse(call.input).error).toBeUndefined();
    }
    expect(ran).toEqual(calls.map((call) => ({ tool: call.toolName, input: call.input })));
    expect((await result.toolCalls).map((c) => c.input)).toEqual(calls.map((c) => c.input));
  });

  it.for(['generateText', 'streamText'] as const)('%s multi-step loop: a forced call, its result sent back, then a text answer (stopWhen stepCountIs(2))', async (fn) => {
    const { ran, tools: toolSet } = tools();
    const request = {
      model: model(),
      tools: toolSet,
      // Step 1 must call a tool; step 2 answers in text (the toy model would otherwise call again).
      prepareStep: ({ stepNumber }: { stepNumber: number }) => ({ toolChoice: stepNumber === 0 ? ('required' as const) : ('none' as const) }),
      stopWhen: stepCountIs(2),
      prompt: 'Weather in Paris?',
      maxOutputTokens: 120,
      temperature: 0,
      maxRetries: 0,
    };
    const before = sent.length;
    const result = fn === 'generateText' ? await generateText(request) : streamText({ ...request, onError: ({ error }) => expect.unreachable(String(error)) });
    const steps = await result.steps;
    expect(steps).toHaveLength(2);
    expect(steps[0]?.finishReason).toBe('tool-calls');
    expect(steps[0]?.toolCalls.length).toBeGreaterThan(0);
    expect(ran).toHaveLength(steps[0]?.toolCalls.length ?? -1);
    expect(steps[1]?.toolCalls).toEqual([]);
    expect(['stop', 'length']).toContain(steps[1]?.finishReason);
    expect((await result.text).length).toBeGreaterThan(0);
    expect(await result.text).toBe(steps[1]?.text);

    // The second request carried the calls and their results back, the results answering the calls' ids.
    const requests = sent.slice(before).filter((r) => r.path === path);
    expect(requests).toHaveLength(2);
    const ids = steps[0]?.toolCalls.map((c) => c.toolCallId);
    const results = steps[0]?.toolResults.map((r) => r.output);
    expect(results).toEqual(ran.map((r) => (r.tool === 'get_weather' ? { city: (r.input as { city: string }).city, degrees: 21, unit: (r.input as { unit: string }).unit } : { time: `12:00 ${(r.input as { zone: string }).zone}` })));
    const second = requests[1]?.body ?? {};
    if (path === '/v1/responses') {
      const input = second.input as Array<{ type?: string; call_id?: string }>;
      expect(input.filter((i) => i.type === 'function_call').map((i) => i.call_id)).toEqual(ids);
      const outputs = input.filter((i) => i.type === 'function_call_output') as Array<{ call_id: string; output: string }>;
      expect(outputs.map((i) => i.call_id)).toEqual(ids);
      expect(outputs.map((i) => JSON.parse(i.output) as unknown)).toEqual(results);
    } else {
      const messages = second.messages as Array<{ role: string; tool_calls?: Array<{ id: string }>; tool_call_id?: string; content: unknown }>;
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', ...(ids ?? []).map(() => 'tool')]);
      expect(messages[1]?.tool_calls?.map((c) => c.id)).toEqual(ids);
      expect(messages.slice(2).map((m) => m.tool_call_id)).toEqual(ids);
      expect(messages.slice(2).map((m) => JSON.parse(String(m.content)) as unknown)).toEqual(results);
    }
    expect(second.tool_choice).toBe('none');
  });
});
