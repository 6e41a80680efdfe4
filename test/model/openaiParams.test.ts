import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * The OpenAI sampling parameters that used to be ignored without a word, through the official
 * `openai` client: `frequency_penalty` / `presence_penalty` (mapped to the model's repeatPenalty),
 * `logprobs`, `n` (parallel sequences), `user` (accepted); `logit_bias` and `top_logprobs > 0`
 * refused with UNSUPPORTED_PARAMETER.
 */
let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ slots: 3 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

async function apiError(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}

const messages = [{ role: 'user' as const, content: 'Say the word "again" many times' }];
const greedy = { model: 'tiny', messages, max_tokens: 24, temperature: 0 };

describe('frequency_penalty / presence_penalty', () => {
  it('change the greedy output; out of range is a 400 naming the field', async () => {
    const plain = (await client.chat.completions.create(greedy)).choices[0]!.message.content;
    const frequency = (await client.chat.completions.create({ ...greedy, frequency_penalty: 2 })).choices[0]!.message.content;
    const presence = (await client.chat.completions.create({ ...greedy, presence_penalty: 2 })).choices[0]!.message.content;
    expect(frequency).not.toBe(plain);
    expect(presence).not.toBe(plain);
    for (const field of ['frequency_penalty', 'presence_penalty'] as const) {
      const error = await apiError(client.chat.completions.create({ ...greedy, [field]: 2.5 }));
      expect(error.status).toBe(400);
      expect(error.message).toContain(field);
    }
  }, 120_000);

  it('user is accepted', async () => {
    const reply = await client.chat.completions.create({ ...greedy, max_tokens: 2, user: 'someone-42' });
    expect(reply.choices).toHaveLength(1);
  }, 60_000);
});

describe('logprobs', () => {
  it('non-streamed: one entry per token, numbers ≤ 0, tokens concatenate to the text', async () => {
    const reply = await client.chat.completions.create({ ...greedy, logprobs: true, top_logprobs: 0 });
    const choice = reply.choices[0]!;
    const content = choice.logprobs?.content ?? [];
    expect(content.length).toBeGreaterThan(0);
    expect(content.map((e) => e.token).join('')).toBe(choice.message.content);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(Number.isFinite(entry.logprob)).toBe(true);
      expect(Buffer.from(entry.bytes ?? []).toString('utf8')).toBe(entry.token);
      expect(entry.top_logprobs).toEqual([]);
    }
    expect(content.some((e) => e.logprob < 0)).toBe(true);
    // Without it: null, as before.
    expect((await client.chat.completions.create({ ...greedy, max_tokens: 2 })).choices[0]!.logprobs).toBeNull();
  }, 60_000);

  it('streamed: every content chunk carries its entries, and they concatenate to the text', async () => {
    const stream = await client.chat.completions.create({ ...greedy, logprobs: true, stream: true });
    let text = '';
    let tokens = '';
    const logprobs: number[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice?.delta.content) continue;
      text += choice.delta.content;
      const content = choice.logprobs?.content ?? [];
      expect(content.length).toBeGreaterThan(0);
      logprobs.push(...content.map((e) => e.logprob));
      tokens += content.map((e) => e.token).join('');
    }
    expect(text.length).toBeGreaterThan(0);
    expect(tokens).toBe(text);
    expect(logprobs.every((l) => l <= 0 && Number.isFinite(l))).toBe(true);
    expect(logprobs.some((l) => l < 0)).toBe(true);
  }, 60_000);

  it('/v1/completions: the legacy shape', async () => {
    const reply = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, logprobs: 0 });
    const choice = reply.choices[0]!;
    expect(choice.logprobs?.tokens?.join('')).toBe(choice.text);
    expect(choice.logprobs?.token_logprobs?.every((l) => l <= 0)).toBe(true);
    expect(choice.logprobs?.text_offset?.[0]).toBe(0);
  }, 60_000);
});

describe('n', () => {
  const sampled = { model: 'tiny', messages: [{ role: 'user' as const, content: 'Tell me a story' }], max_tokens: 12, temperature: 1, seed: 7 };

  it('n: 3 gives three choices with index 0..2, reproducible by seed; usage sums the completions', async () => {
    const reply = await client.chat.completions.create({ ...sampled, n: 3 });
    expect(reply.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const texts = reply.choices.map((c) => c.message.content);
    expect(new Set(texts).size).toBeGreaterThan(1);
    const again = await client.chat.completions.create({ ...sampled, n: 3 });
    expect(again.choices.map((c) => c.message.content)).toEqual(texts);
    // Choice 0 is the single request with the same seed.
    expect((await client.chat.completions.create(sampled)).choices[0]!.message.content).toBe(texts[0]);
    const single = (await client.chat.completions.create(sampled)).usage!;
    expect(reply.usage!.prompt_tokens).toBe(single.prompt_tokens);
    expect(reply.usage!.completion_tokens).toBeGreaterThan(single.completion_tokens);
    expect(reply.usage!.total_tokens).toBe(reply.usage!.prompt_tokens + reply.usage!.completion_tokens);
  }, 120_000);

  it('streamed: chunks interleave by index, every index gets its finish_reason, texts match the non-streamed', async () => {
    const expected = (await client.chat.completions.create({ ...sampled, n: 3 })).choices.map((c) => c.message.content);
    const stream = await client.chat.completions.create({ ...sampled, n: 3, stream: true, stream_options: { include_usage: true } });
    const texts = ['', '', ''];
    const finished: (string | null)[] = [null, null, null];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.delta.content ?? '';
        if (choice.finish_reason) finished[choice.index] = choice.finish_reason;
      }
    }
    expect(finished.every((r) => r !== null)).toBe(true);
    expect(new Set(texts).size).toBeGreaterThan(1);
    expect(texts).toEqual(expected);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  }, 120_000);

  it('n outside 1..8 is a 400 naming the limit', async () => {
    const error = await apiError(client.chat.completions.create({ ...sampled, n: 9 }));
    expect(error.status).toBe(400);
    expect(error.message).toContain('1 to 8');
  }, 30_000);
});

describe('refused, never ignored', () => {
  it('logit_bias and top_logprobs > 0: 400 UNSUPPORTED_PARAMETER naming the field', async () => {
    for (const [field, extra] of [
      ['logit_bias', { logit_bias: { '42': -100 } }],
      ['top_logprobs', { logprobs: true, top_logprobs: 3 }],
    ] as const) {
      const error = await apiError(client.chat.completions.create({ ...greedy, max_tokens: 2, ...extra }));
      expect(error.status).toBe(400);
      expect(error.code).toBe('UNSUPPORTED_PARAMETER');
      expect(error.message).toContain(field);
    }
    // An empty bias asks for nothing.
    expect((await client.chat.completions.create({ ...greedy, max_tokens: 2, logit_bias: {} })).choices).toHaveLength(1);
  }, 60_000);
});

describe("on node-llama-cpp's engine", () => {
  it('penalties change the greedy output, logprobs come, n: 3 gives three choices', async () => {
    const other = await startTestServer({ engine: 'node-llama-cpp', slots: 3 });
    try {
      const c = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const plain = (await c.chat.completions.create(greedy)).choices[0]!.message.content;
      expect((await c.chat.completions.create({ ...greedy, frequency_penalty: 2 })).choices[0]!.message.content).not.toBe(plain);
      expect((await c.chat.completions.create({ ...greedy, presence_penalty: 2 })).choices[0]!.message.content).not.toBe(plain);
      const reply = await c.chat.completions.create({ ...greedy, logprobs: true });
      const content = reply.choices[0]!.logprobs?.content ?? [];
      expect(content.map((e) => e.token).join('')).toBe(reply.choices[0]!.message.content);
      expect(content.every((e) => e.logprob <= 0) && content.some((e) => e.logprob < 0)).toBe(true);
      const three = await c.chat.completions.create({ ...greedy, temperature: 1, seed: 7, n: 3 });
      expect(three.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    } finally {
      await other.dispose();
    }
  }, 180_000);
});
