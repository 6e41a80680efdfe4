import { Ollama } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/** The Ollama routes, driven by the real `ollama` client against the tiny model. */
describe('Ollama API', () => {
  let server: TestServer;
  let ollama: Ollama;

  beforeAll(async () => {
    // The tools' documentation the template adds takes ~600 tokens of context.
    server = await startTestServer({ contextSize: 2048 });
    ollama = new Ollama({ host: server.url });
  }, 120_000);

  afterAll(async () => {
    await server?.dispose();
  });

  const messages = [{ role: 'user', content: 'Say hello' }];
  const options = { num_predict: 5, temperature: 0 };

  it('answers version, tags, show and ps', async () => {
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+/);
    const tags = await ollama.list();
    const tiny = tags.models.find((m) => m.name === 'tiny');
    expect(tiny?.size).toBeGreaterThan(0);
    expect(tiny?.details.format).toBe('gguf');
    expect(tiny?.digest).toMatch(/^[0-9a-f]{64}$/);
    const show = await ollama.show({ model: 'tiny' });
    expect(show.details.format).toBe('gguf');
    expect(typeof show.template).toBe('string');
    expect(Object.keys(show.model_info).some((k) => k.endsWith('.embedding_length'))).toBe(true);
    const ps = await ollama.ps();
    expect(ps.models.map((m) => m.name)).toContain('tiny');
  }, 120_000);

  it('chats whole and streamed: num_predict bounds the reply, the streamed text is the whole one', async () => {
    const whole = await ollama.chat({ model: 'tiny', messages, stream: false, options });
    expect(whole.done).toBe(true);
    expect(whole.done_reason).toBe('length');
    expect(whole.eval_count).toBe(5);
    expect(whole.prompt_eval_count).toBeGreaterThan(0);
    expect(whole.total_duration).toBeGreaterThan(0);
    let text = '';
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of await ollama.chat({ model: 'tiny', messages, stream: true, options })) {
      text += part.message.content;
      last = part;
    }
    expect(text).toBe(whole.message.content);
    expect(last?.done).toBe(true);
    expect(last?.done_reason).toBe('length');
    expect(last?.eval_count).toBe(5);
  }, 120_000);

  it('generates whole and streamed', async () => {
    const whole = await ollama.generate({ model: 'tiny', prompt: 'Once upon a time', stream: false, options });
    expect(whole.done_reason).toBe('length');
    expect(whole.eval_count).toBe(5);
    let text = '';
    for await (const part of await ollama.generate({ model: 'tiny', prompt: 'Once upon a time', stream: true, options })) text += part.response;
    expect(text).toBe(whole.response);
  }, 120_000);

  it('embeds with /api/embed and the legacy /api/embeddings', async () => {
    const { embeddingSize } = await (await server.models.ref('tiny')).ask(ModelMessage.Info, null);
    const result = await ollama.embed({ model: 'tiny', input: ['a', 'b'] });
    expect(result.embeddings).toHaveLength(2);
    for (const vector of result.embeddings) expect(vector).toHaveLength(embeddingSize);
    const legacy = await ollama.embeddings({ model: 'tiny', prompt: 'a' });
    expect(legacy.embedding).toHaveLength(embeddingSize);
  }, 120_000);

  it("format: 'json' answers JSON", async () => {
    const reply = await ollama.chat({ model: 'tiny', messages, stream: false, format: 'json', options: { num_predict: 40, temperature: 0 } });
    expect(() => JSON.parse(reply.message.content)).not.toThrow();
  }, 120_000);

  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', required: ['city'], properties: { city: { type: 'string', description: 'the city', maxLength: 12 } } },
    },
  };
  // The toy model does not write the call opening by itself (Ollama has no tool_choice): a format
  // grammar makes its text the family's opening (`||call: `), so the call is the model's own choice.
  const opening = { const: '||call: ' };

  it('tools: a call the model opens comes back as message.tool_calls with object arguments, whole and streamed', async () => {
    const whole = await ollama.chat({ model: 'tiny', messages, stream: false, tools: [weather], format: opening, options: { num_predict: 200 } });
    expect(whole.done_reason).toBe('stop');
    const call = whole.message.tool_calls?.[0];
    expect(call?.function.name).toBe('get_weather');
    expect(Object.keys(call?.function.arguments ?? {})).toEqual(['city']);
    expect(typeof call?.function.arguments.city).toBe('string');

    const parts = await ollama.chat({ model: 'tiny', messages, stream: true, tools: [weather], format: opening, options: { num_predict: 200 } });
    const calls = [];
    let last;
    for await (const part of parts) {
      calls.push(...(part.message.tool_calls ?? []));
      last = part;
    }
    expect(calls).toHaveLength(1);
    expect(calls[0]?.function.name).toBe('get_weather');
    expect(last?.done).toBe(true);

    // The loop: the call and a tool message (paired by order, as Ollama sends no ids) continue the chat.
    const answer = await ollama.chat({
      model: 'tiny',
      stream: false,
      tools: [weather],
      messages: [...messages, whole.message, { role: 'tool', content: '{"temperature": 21}', tool_name: 'get_weather' }],
      options: { num_predict: 4 },
    });
    expect(answer.prompt_eval_count).toBeGreaterThan(whole.prompt_eval_count + 5);
    await expect(ollama.chat({ model: 'tiny', stream: false, messages: [...messages, { role: 'tool', content: 'x' }] })).rejects.toMatchObject({
      status_code: 400,
      error: expect.stringContaining('no earlier assistant message has a call left to answer'),
    });
  }, 120_000);

  it('refuses tools on /api/generate and bad options with a typed 400, an unknown model with 404', async () => {
    const generate = await fetch(`${server.url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny', prompt: 'x', tools: [weather], stream: false }) });
    expect(generate.status).toBe(400);
    expect(((await generate.json()) as { error: string }).error).toContain('tools');
    await expect(ollama.chat({ model: 'tiny', messages, stream: false, options: { typical_p: 0.5 } })).rejects.toMatchObject({ status_code: 400 });
    // Load-time options are accepted (not applied per request), as are keys Ollama itself ignores.
    const loadOptions = { ...options, num_ctx: 4096, num_thread: 2, unknown_option: 1 };
    expect((await ollama.chat({ model: 'tiny', messages, stream: false, options: loadOptions })).eval_count).toBe(5);
    await expect(ollama.chat({ model: 'nope', messages, stream: false })).rejects.toMatchObject({ status_code: 404 });
    await expect(ollama.show({ model: 'nope' })).rejects.toMatchObject({ status_code: 404 });
  }, 120_000);

  it('a client that aborts mid-stream frees the slot', async () => {
    const stream = await ollama.chat({ model: 'tiny', messages, stream: true, options: { num_predict: 400, temperature: 0 } });
    let parts = 0;
    await expect(
      (async () => {
        for await (const _part of stream) if (++parts === 2) stream.abort();
      })(),
    ).rejects.toThrow();
    expect(parts).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => (await server.status()).busySlots, { timeout: 30_000 }).toBe(0);
  }, 120_000);
});
