import { AIMessage, AIMessageChunk, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ModelInfo, ModelMessage } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * LangChain's OpenAI integration (`@langchain/openai` on `@langchain/core`) against the server on
 * the generated tiny model. The model writes toy text, so these tests check structure: the reply
 * is a message with text and usage, structured output parses and matches its schema (the server
 * constrains the output with a grammar), embeddings are the vectors /v1/embeddings gives.
 * Every request the client sends is recorded, so a test also sees what went over the wire.
 */
let server: TestServer;
let embeddingSize: number;
const sent: Array<{ url: string; body: Record<string, unknown> }> = [];

/** The client's fetch, recording each request's URL and JSON body. */
const recordingFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
  sent.push({ url, body });
  return fetch(input, init);
};

/** The body of the last request sent to a URL ending in `path`. */
function lastBody(path: string): Record<string, unknown> {
  const request = sent.findLast((r) => new URL(r.url).pathname.endsWith(path));
  expect(request, `a request to ${path}`).toBeDefined();
  return request?.body ?? {};
}

function chat(options: Record<string, unknown> = {}) {
  return new ChatOpenAI({
    model: 'tiny',
    apiKey: 'unused',
    maxRetries: 0,
    temperature: 0,
    maxTokens: 16,
    configuration: { baseURL: `${server.url}/v1`, fetch: recordingFetch },
    ...options,
  });
}

beforeAll(async () => {
  // 2048 tokens of context: tool definitions go into the prompt, over the default 512.
  server = await startTestServer({ contextSize: 2048 });
  const model = await server.models.ensureStarted('tiny');
  embeddingSize = (await server.router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 120_000 })).embeddingSize;
}, 300_000);

afterAll(async () => {
  await server?.dispose();
});

const textOf = (message: BaseMessage) => (typeof message.content === 'string' ? message.content : message.content.map((part) => ('text' in part ? part.text : '')).join(''));

describe('ChatOpenAI', () => {
  it('invoke: an AIMessage with text, the finish reason and token usage', async () => {
    const reply = await chat({ maxTokens: 6 }).invoke([new HumanMessage('hello')]);
    expect(reply).toBeInstanceOf(AIMessage);
    expect(textOf(reply).length).toBeGreaterThan(0);
    expect(reply.response_metadata.finish_reason).toBe('length');
    expect(reply.usage_metadata?.output_tokens).toBe(6);
    expect(reply.usage_metadata?.input_tokens).toBeGreaterThan(0);
    expect(reply.usage_metadata?.total_tokens).toBe((reply.usage_metadata?.input_tokens ?? 0) + 6);
    expect(lastBody('/chat/completions')).toMatchObject({ model: 'tiny', max_tokens: 6, temperature: 0 });
  });

  it('stream: the chunks concatenate to the text invoke gives, the last carrying usage', async () => {
    const model = chat({ maxTokens: 10 });
    const whole = await model.invoke('tell me about actors');
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream('tell me about actors')) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(lastBody('/chat/completions')).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    const joined = chunks.reduce((sum, chunk) => sum.concat(chunk));
    expect(textOf(joined)).toBe(textOf(whole));
    // The prompt is the same; how much of it the KV cache held (input_token_details) may differ.
    const counts = (m: AIMessageChunk | AIMessage) => [m.usage_metadata?.input_tokens, m.usage_metadata?.output_tokens, m.usage_metadata?.total_tokens];
    expect(counts(joined)).toEqual(counts(whole));
    expect(joined.usage_metadata?.output_tokens).toBe(10);
    expect(joined.response_metadata.finish_reason).toBe('length');
  });
});

describe('withStructuredOutput', () => {
  const answer = z.object({
    ok: z.boolean(),
    mood: z.enum(['calm', 'busy', 'idle']),
    word: z.string().max(10),
  });

  it("method 'jsonSchema': response_format json_schema, the reply parses and matches the schema", async () => {
    const structured = chat({ maxTokens: 120 }).withStructuredOutput(answer, { method: 'jsonSchema', name: 'answer', includeRaw: true });
    const { parsed, raw } = await structured.invoke('How are you?');
    expect(answer.safeParse(parsed).success).toBe(true);
    expect(parsed).toEqual(JSON.parse(textOf(raw)));
    const format = lastBody('/chat/completions').response_format as { type: string; json_schema: { name: string; schema: Record<string, unknown> } };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.name).toBe('answer');
    expect(format.json_schema.schema).toMatchObject({ type: 'object', required: ['ok', 'mood', 'word'] });
  });

  it("method 'jsonMode': response_format json_object, the reply is a JSON object the (open) schema accepts", async () => {
    // json_object only promises an object, so the schema is open: any object matches, a string or a list does not.
    const anyObject = z.record(z.string(), z.unknown());
    const structured = chat({ maxTokens: 120 }).withStructuredOutput(anyObject, { method: 'jsonMode', includeRaw: true });
    const { parsed, raw } = await structured.invoke('Reply in JSON.');
    expect(lastBody('/chat/completions').response_format).toEqual({ type: 'json_object' });
    expect(typeof parsed).toBe('object');
    expect(Array.isArray(parsed)).toBe(false);
    expect(parsed).toEqual(JSON.parse(textOf(raw)));
  });
});

describe('OpenAIEmbeddings', () => {
  /** /v1/embeddings' float vectors for `input`, straight from the server. */
  async function serverVectors(input: string[]): Promise<number[][]> {
    const response = await fetch(`${server.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', input, encoding_format: 'float' }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { data: Array<{ embedding: number[] }> }).data.map((d) => d.embedding);
  }

  const embeddings = (options: Record<string, unknown> = {}) =>
    new OpenAIEmbeddings({ model: 'tiny', apiKey: 'unused', maxRetries: 0, configuration: { baseURL: `${server.url}/v1`, fetch: recordingFetch }, ...options });

  it('embedDocuments and embedQuery: vectors of the embedding size, non-zero, the server float vectors', async () => {
    expect(embeddingSize).toBeGreaterThan(0);
    const texts = ['the actor', 'a mailbox'];
    const documents = await embeddings().embedDocuments(texts);
    const query = await embeddings().embedQuery('the actor');
    const expected = await serverVectors(texts);
    expect(documents).toHaveLength(2);
    for (const vector of [...documents, query]) {
      expect(vector).toHaveLength(embeddingSize);
      expect(vector.filter((v) => v !== 0).length).toBeGreaterThan(embeddingSize / 2);
    }
    // The client asks for base64 (float32 bytes) by default: the server's floats to float32 precision.
    expect(documents).toEqual(expected.map((v) => v.map((x) => Math.fround(x))));
    expect(query).toEqual(documents[0]);
    expect(documents[0]).not.toEqual(documents[1]);
  });

  it("encodingFormat 'float' and dimensions equal to the model's size: the exact float vectors", async () => {
    const vectors = await embeddings({ encodingFormat: 'float', dimensions: embeddingSize }).embedDocuments(['one', 'two', 'three']);
    expect(lastBody('/embeddings')).toMatchObject({ encoding_format: 'float', dimensions: embeddingSize, input: ['one', 'two', 'three'] });
    expect(vectors).toEqual(await serverVectors(['one', 'two', 'three']));
  });
});

describe('ChatOpenAI with useResponsesApi (/v1/responses)', () => {
  it('invoke and stream: the same text, usage, over the Responses API', async () => {
    const model = chat({ maxTokens: 8, useResponsesApi: true });
    const whole = await model.invoke('hello');
    expect(lastBody('/responses')).toMatchObject({ model: 'tiny', max_output_tokens: 8 });
    expect(whole).toBeInstanceOf(AIMessage);
    expect(textOf(whole).length).toBeGreaterThan(0);
    expect(whole.usage_metadata?.output_tokens).toBe(8);
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream('hello')) chunks.push(chunk);
    expect(lastBody('/responses')).toMatchObject({ stream: true });
    const joined = chunks.reduce((sum, chunk) => sum.concat(chunk));
    expect(textOf(joined)).toBe(textOf(whole));
    expect(joined.usage_metadata?.output_tokens).toBe(8);
  });
});

describe('tools', () => {
  const weatherInput = z.object({ city: z.string().max(12), unit: z.enum(['celsius', 'fahrenheit']) });
  const timeInput = z.object({ zone: z.enum(['UTC', 'CET', 'PST']) });
  const ran: Array<z.infer<typeof weatherInput>> = [];
  const weather = tool(
    async (input) => {
      ran.push(input);
      return `${input.city}: 21 degrees ${input.unit}`;
    },
    { name: 'get_weather', description: 'The weather in a city', schema: weatherInput },
  );
  const time = tool(async ({ zone }) => `12:00 ${zone}`, { name: 'get_time', description: 'The time in a zone', schema: timeInput });

  /** The tools the last chat request declared, as [type, name]. */
  const sentTools = () => (lastBody('/chat/completions').tools as Array<{ type: string; function: { name: string; parameters: unknown } }>).map((t) => [t.type, t.function.name]);

  it("bindTools with tool_choice 'required': tool_calls whose args parse and match the zod schema", async () => {
    const reply = await chat({ maxTokens: 120 }).bindTools([weather, time], { tool_choice: 'required' }).invoke('What is the weather in Paris?');
    const body = lastBody('/chat/completions');
    expect(body.tool_choice).toBe('required');
    expect(sentTools()).toEqual([
      ['function', 'get_weather'],
      ['function', 'get_time'],
    ]);
    expect(reply.tool_calls?.length).toBeGreaterThan(0);
    expect(reply.invalid_tool_calls ?? []).toEqual([]);
    expect(reply.response_metadata.finish_reason).toBe('tool_calls');
    for (const call of reply.tool_calls ?? []) {
      expect(['get_weather', 'get_time']).toContain(call.name);
      expect(call.id).toEqual(expect.any(String));
      const schema = call.name === 'get_weather' ? weatherInput : timeInput;
      expect(schema.safeParse(call.args).error).toBeUndefined();
    }
  });

  it('bindTools with tool_choice a tool name: that tool is called, streamed chunks join to the same call', async () => {
    const model = chat({ maxTokens: 120 }).bindTools([weather, time], { tool_choice: 'get_time' });
    const reply = await model.invoke('What time is it?');
    expect(lastBody('/chat/completions').tool_choice).toEqual({ type: 'function', function: { name: 'get_time' } });
    expect(reply.tool_calls?.map((call) => call.name)).toEqual(['get_time']);
    expect(timeInput.parse(reply.tool_calls?.[0]?.args)).toEqual(reply.tool_calls?.[0]?.args);

    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream('What time is it?')) chunks.push(chunk);
    expect(lastBody('/chat/completions')).toMatchObject({ stream: true });
    const joined = chunks.reduce((sum, chunk) => sum.concat(chunk));
    expect(joined.tool_calls?.map((call) => call.name)).toEqual(['get_time']);
    expect(timeInput.safeParse(joined.tool_calls?.[0]?.args).error).toBeUndefined();
    // Greedy: the streamed call is the call invoke got (its id aside).
    expect(joined.tool_calls?.[0]?.args).toEqual(reply.tool_calls?.[0]?.args);
  });

  it("withStructuredOutput method 'functionCalling': a forced call to the schema's function, parsed", async () => {
    const answer = z.object({ ok: z.boolean(), mood: z.enum(['calm', 'busy', 'idle']) });
    const structured = chat({ maxTokens: 120 }).withStructuredOutput(answer, { method: 'functionCalling', name: 'answer', includeRaw: true });
    const { parsed, raw } = await structured.invoke('How are you?');
    expect(lastBody('/chat/completions').tool_choice).toEqual({ type: 'function', function: { name: 'answer' } });
    expect(answer.parse(parsed)).toEqual(parsed);
    expect((raw as AIMessage).tool_calls?.[0]?.args).toEqual(parsed);
  });

  it('an agent loop: a forced call, its ToolMessage result, then a text answer (an AIMessage without calls)', async () => {
    ran.length = 0;
    const messages: BaseMessage[] = [new HumanMessage('What is the weather in Paris?')];
    const call = await chat({ maxTokens: 120 }).bindTools([weather], { tool_choice: 'required' }).invoke(messages);
    expect(call.tool_calls?.length).toBeGreaterThan(0);
    messages.push(call);
    for (const toolCall of call.tool_calls ?? []) {
      const result = await weather.invoke({ ...toolCall, type: 'tool_call' });
      expect(result).toBeInstanceOf(ToolMessage);
      messages.push(result);
    }
    expect(ran.map((input) => weatherInput.parse(input))).toEqual(call.tool_calls?.map((c) => c.args));

    const final = await chat({ maxTokens: 12 }).bindTools([weather], { tool_choice: 'none' }).invoke(messages);
    expect(final).toBeInstanceOf(AIMessage);
    expect(final.tool_calls ?? []).toEqual([]);
    expect(textOf(final).length).toBeGreaterThan(0);
    // The second request carried the assistant's calls and one tool message per call, answering its id.
    const sentMessages = lastBody('/chat/completions').messages as Array<{ role: string; tool_calls?: Array<{ id: string }>; tool_call_id?: string; content: unknown }>;
    expect(sentMessages.map((m) => m.role)).toEqual(['user', 'assistant', ...(call.tool_calls ?? []).map(() => 'tool')]);
    const ids = sentMessages[1]?.tool_calls?.map((c) => c.id);
    expect(ids).toEqual(call.tool_calls?.map((c) => c.id));
    expect(sentMessages.slice(2).map((m) => m.tool_call_id)).toEqual(ids);
    expect(sentMessages[2]?.content).toMatch(/21 degrees/);
  });
});
