import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/testServer.js';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const server = await startTestServer();
  cleanups.push(server.dispose);
  // The SDK appends /v1/messages to its baseURL: the server's root.
  const client = new Anthropic({ baseURL: server.url, apiKey: 'x', maxRetries: 0 });
  return { ...server, client };
}

const textOf = (message: Anthropic.Message) => message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
const user = (content: string) => [{ role: 'user' as const, content }];

describe('Anthropic Messages API through @anthropic-ai/sdk', () => {
  it('messages.create: max_tokens ends the message with stop_reason max_tokens, with usage', async () => {
    const { client } = await setup();
    const message = await client.messages.create({ model: 'tiny', max_tokens: 5, messages: user('hi') });
    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'tiny', stop_reason: 'max_tokens', stop_sequence: null });
    expect(message.id).toMatch(/^msg_/);
    expect(message.content).toHaveLength(1);
    expect(message.content[0]?.type).toBe('text');
    expect(textOf(message).length).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBe(5);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('a system prompt (string or text blocks) reaches the prompt, and count_tokens counts it as the generation does', async () => {
    const { client } = await setup();
    const request = { model: 'tiny', max_tokens: 3, messages: user('hello there') };
    const plain = await client.messages.create(request);
    const withSystem = await client.messages.create({ ...request, system: 'You are terse.' });
    const withBlocks = await client.messages.create({ ...request, system: [{ type: 'text', text: 'You are terse.' }] });
    expect(withSystem.usage.input_tokens).toBeGreaterThan(plain.usage.input_tokens);
    expect(withBlocks.usage.input_tokens).toBe(withSystem.usage.input_tokens);
    const counted = await client.messages.countTokens({ model: 'tiny', system: 'You are terse.', messages: user('hello there') });
    expect(counted.input_tokens).toBe(withSystem.usage.input_tokens);
    const conversation = [
      { role: 'user' as const, content: 'one' },
      { role: 'assistant' as const, content: [{ type: 'text' as const, text: 'two' }] },
      { role: 'user' as const, content: 'three' },
    ];
    const turns = await client.messages.create({ model: 'tiny', max_tokens: 2, messages: conversation });
    expect((await client.messages.countTokens({ model: 'tiny', messages: conversation })).input_tokens).toBe(turns.usage.input_tokens);
  });

  it('messages.stream: the text events make up finalMessage, in the Messages event order', async () => {
    const { client, url } = await setup();
    // temperature is not in this SDK's parameter types, but it sends what it is given.
    const greedy = { model: 'tiny', max_tokens: 8, temperature: 0, messages: user('hello') };
    const stream = client.messages.stream(greedy);
    const types: string[] = [];
    let text = '';
    stream.on('streamEvent', (event) => types.push(event.type));
    stream.on('text', (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    expect(text).toBe(textOf(final));
    expect(text.length).toBeGreaterThan(0);
    expect(final).toMatchObject({ stop_reason: 'max_tokens', usage: { output_tokens: 8 } });
    expect(final.usage.input_tokens).toBeGreaterThan(0);
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(new Set(types.slice(2, -3))).toEqual(new Set(['content_block_delta']));
    // Greedy: the streamed text is the whole reply's.
    const whole = await client.messages.create(greedy);
    expect(textOf(whole)).toBe(text);

    // On the wire: each event named, ping after the block's start.
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', max_tokens: 3, stream: true, messages: user('hello') }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = (await response.text()).split('\n\n').filter((frame) => frame.length > 0);
    const named = frames.map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      const type = eventLine?.replace(/^event: /, '');
      expect((JSON.parse(dataLine?.replace(/^data: /, '') ?? '{}') as { type: string }).type).toBe(type);
      return type;
    });
    expect(named.slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(named.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('stop_sequences end the message with stop_reason stop_sequence, naming the sequence', async () => {
    const { client } = await setup();
    const request = { model: 'tiny', max_tokens: 20, temperature: 0, messages: user('hello') };
    const free = textOf(await client.messages.create(request));
    // A character first seen after the start: the greedy reply stops just before it.
    const at = [...free].findIndex((char, i) => i > 0 && char.trim().length > 0 && !free.slice(0, i).includes(char));
    expect(at).toBeGreaterThan(0);
    const stop = free[at]!;
    const stopped = await client.messages.create({ ...request, stop_sequences: [stop] });
    expect(stopped).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop });
    expect(textOf(stopped)).not.toContain(stop);
    expect(free.startsWith(textOf(stopped))).toBe(true);
  });

  it('an unknown model is a NotFoundError with an Anthropic error body', async () => {
    const { client } = await setup();
    const failure = await client.messages.create({ model: 'nope', max_tokens: 5, messages: user('hi') }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.NotFoundError);
    const error = failure as InstanceType<typeof Anthropic.NotFoundError>;
    expect(error.status).toBe(404);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const counting = await client.messages.countTokens({ model: 'nope', messages: user('hi') }).catch((e: unknown) => e);
    expect(counting).toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('server tools, stray tool_result blocks, images and a missing max_tokens are BadRequestErrors naming the field', async () => {
    const { client, url } = await setup();
    const tools = [{ type: 'web_search_20250305' as const, name: 'web_search' as const }];
    const withTools = await client.messages.create({ model: 'tiny', max_tokens: 5, messages: user('hi'), tools }).catch((e: unknown) => e);
    expect(withTools).toBeInstanceOf(Anthropic.BadRequestError);
    expect((withTools as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', code: 'UNSUPPORTED_PARAMETER', message: expect.stringContaining('tools[0].type') },
    });
    const toolResult = await client.messages
      .create({ model: 'tiny', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'sunny' }] }] })
      .catch((e: unknown) => e);
    expect(toolResult).toBeInstanceOf(Anthropic.BadRequestError);
    expect((toolResult as Error).message).toContain('which no earlier assistant message called');
    const image = await client.messages
      .create({
        model: 'tiny',
        max_tokens: 5,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }],
      })
      .catch((e: unknown) => e);
    expect(image).toBeInstanceOf(Anthropic.BadRequestError);
    // The image reaches the model, which cannot see: MODALITY_NOT_SUPPORTED (test/model/imageInput.test.ts).
    expect((image as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ error: { code: 'MODALITY_NOT_SUPPORTED', message: expect.stringContaining('messages[0].content[0]') } });
    const noMax = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny', messages: user('hi') }) });
    expect(noMax.status).toBe(400);
    expect(await noMax.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
  });

  it('aborting a stream mid-way frees the slot', async () => {
    const { client, status } = await setup();
    const stream = client.messages.stream({ model: 'tiny', max_tokens: 400, messages: user('tell me a long story') });
    let deltas = 0;
    await new Promise<void>((resolve) => {
      stream.on('text', () => {
        if (++deltas === 3) resolve();
      });
      stream.on('end', () => resolve());
    });
    expect((await status()).busySlots).toBeGreaterThan(0);
    stream.abort();
    await stream.done().catch(() => {});
    await expect.poll(async () => (await status()).busySlots, { timeout: 30_000 }).toBe(0);
    const next = await client.messages.create({ model: 'tiny', max_tokens: 2, messages: user('still there?') });
    expect(next.stop_reason).toBe('max_tokens');
  });
});
