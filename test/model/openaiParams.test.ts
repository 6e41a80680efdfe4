import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelMessage, type TokenStreamEvent } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * The OpenAI sampling parameters that used to be ignored without a word, through the official
 * `openai` client: `frequency_penalty` / `presence_penalty` (mapped to the model's repeatPenalty),
 * `logprobs`, `n` (parallel sequences), `user` (accepted); and the ones that used to be refused,
 * `logit_bias` and `top_logprobs` (and the legacy `logprobs: k`), on both engines.
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

describe.each(['native', 'node-llama-cpp'] as const)('logit_bias and top_logprobs, %s engine', (engine) => {
  let own: TestServer;
  let c: OpenAI;
  let model: Awaited<ReturnType<TestServer['models']['ref']>>;

  beforeAll(async () => {
    own = await startTestServer({ engine, slots: 2 });
    model = await own.models.ref('tiny');
    c = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 120_000);

  afterAll(async () => {
    await own?.dispose();
  });

  type TokenEvent = Pick<TokenStreamEvent, 'type' | 'tokenId' | 'logprob' | 'topLogprobs'>;

  /** The token events of a greedy generation on the model itself (their ids are what a bias names). */
  async function tokenEvents(request: { logitBias?: Record<number, number>; topLogprobs?: number; logprobs?: boolean }): Promise<TokenEvent[]> {
    const events: TokenEvent[] = [];
    const { logitBias, ...rest } = request;
    await model.streamAsk(ModelMessage.Generate, { messages, params: { maxTokens: 24, temperature: 0, ...(logitBias ? { logitBias } : {}) }, ...rest }, {
      onChunk: (event) => void events.push(event),
    });
    return events.filter((event) => event.type === 'token' && event.tokenId !== undefined);
  }

  it('+100 on one token makes every greedy token that one; −100 on each greedy token bans them all', async () => {
    const plain = (await tokenEvents({})).map((event) => event.tokenId!);
    expect(plain.length).toBeGreaterThan(3);
    const forced = [...new Set(plain)].includes(100) ? 101 : 100;
    const all = (await tokenEvents({ logitBias: { [forced]: 100 } })).map((event) => event.tokenId);
    expect(all).toEqual(Array(24).fill(forced));
    const banned = Object.fromEntries(plain.map((token) => [token, -100]));
    const other = (await tokenEvents({ logitBias: banned })).map((event) => event.tokenId!);
    expect(other.length).toBeGreaterThan(0);
    expect(other.filter((token) => plain.includes(token))).toEqual([]);
  }, 120_000);

  it('through the API: +100 repeats the token, −100 on the first greedy token changes the output', async () => {
    const plain = await c.chat.completions.create(greedy);
    const [first] = (await tokenEvents({})).map((event) => event.tokenId!);
    const [firstBanned] = await tokenEvents({ logitBias: { [first!]: -100 } });
    expect(firstBanned!.tokenId).not.toBe(first);
    const banned = await c.chat.completions.create({ ...greedy, logit_bias: { [String(first)]: -100 } });
    expect(banned.choices[0]!.message.content).not.toBe(plain.choices[0]!.message.content);
    const forced = await c.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 6, temperature: 0, logit_bias: { '100': 100 } });
    const { text: hundred } = await model.ask(ModelMessage.Detokenize, { tokens: Array(6).fill(100) });
    expect(forced.choices[0]!.text).toBe(hundred);
    expect(forced.usage?.completion_tokens).toBe(6);
    // The end of generation too (node-llama-cpp's TokenBias.set skips it): `</s>` is id 2 in the tiny vocabulary.
    const ended = await c.chat.completions.create({ ...greedy, logit_bias: { '2': 100 } });
    expect(ended.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: '' } });
    expect(ended.usage?.completion_tokens).toBe(0);
    // An empty bias asks for nothing.
    expect((await c.chat.completions.create({ ...greedy, logit_bias: {} })).choices[0]!.message.content).toBe(plain.choices[0]!.message.content);
  }, 120_000);

  it('a token outside the vocabulary, a bias outside −100..100: 400 naming the numbers', async () => {
    const outside = await apiError(c.chat.completions.create({ ...greedy, logit_bias: { '512': 1 } }));
    expect(outside.status).toBe(400);
    expect(outside.message).toContain('token 512 is outside the vocabulary of 512 tokens');
    const strong = await apiError(c.chat.completions.create({ ...greedy, logit_bias: { '42': 101 } }));
    expect(strong.status).toBe(400);
    expect(strong.message).toContain('-100 to 100, got 101');
  }, 60_000);

  /** Checks one chat entry's alternatives: k of them, sorted, ≤ 0, summing to at most 1, the greedy choice first. */
  function checkEntry(entry: OpenAI.ChatCompletionTokenLogprob, k: number): void {
    const top = entry.top_logprobs;
    expect(top).toHaveLength(k);
    for (const [i, alternative] of top.entries()) {
      expect(alternative.logprob).toBeLessThanOrEqual(0);
      expect(Buffer.from(alternative.bytes ?? []).toString('utf8')).toBe(alternative.token);
      if (i > 0) expect(alternative.logprob).toBeLessThanOrEqual(top[i - 1]!.logprob);
    }
    expect(top.reduce((sum, alternative) => sum + Math.exp(alternative.logprob), 0)).toBeLessThanOrEqual(1 + 1e-6);
    // Greedy: the chosen token is the most likely one, and its logprob is that entry's.
    expect(top[0]!.token).toBe(entry.token);
    expect(entry.logprob).toBeCloseTo(top[0]!.logprob, 6);
  }

  it('chat top_logprobs: k alternatives per entry, streamed and not, the same', async () => {
    const reply = await c.chat.completions.create({ ...greedy, logprobs: true, top_logprobs: 5 });
    const content = reply.choices[0]!.logprobs?.content ?? [];
    expect(content.length).toBeGreaterThan(3);
    for (const entry of content) checkEntry(entry, 5);
    expect(new Set(content.map((entry) => entry.top_logprobs[1]!.token)).size).toBeGreaterThan(0);
    const stream = await c.chat.completions.create({ ...greedy, logprobs: true, top_logprobs: 5, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(streamed).toEqual(content);
    const twenty = (await c.chat.completions.create({ ...greedy, max_tokens: 3, logprobs: true, top_logprobs: 20 })).choices[0]!.logprobs!.content!;
    for (const entry of twenty) checkEntry(entry, 20);
    expect(twenty[0]!.top_logprobs.slice(0, 5)).toEqual(content[0]!.top_logprobs);
  }, 120_000);

  it('on the model: topLogprobs on each token event, ids with their text', async () => {
    const events = await tokenEvents({ topLogprobs: 3, logprobs: true });
    expect(events.length).toBe(24);
    for (const event of events) {
      const top = event.topLogprobs ?? [];
      expect(top).toHaveLength(3);
      expect(top[0]!.tokenId).toBe(event.tokenId);
      expect(top[0]!.logprob).toBeCloseTo(event.logprob!, 6);
      const { text } = await model.ask(ModelMessage.Detokenize, { tokens: [top[1]!.tokenId] });
      expect(top[1]!.text.trim()).toBe(text.trim());
    }
    expect((await tokenEvents({})).every((event) => event.topLogprobs === undefined)).toBe(true);
  }, 120_000);

  it('/v1/completions logprobs: k gives {token: logprob} with the chosen token; limits name their numbers', async () => {
    const reply = await c.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 8, temperature: 0, logprobs: 3 });
    const logprobs = reply.choices[0]!.logprobs!;
    expect(logprobs.top_logprobs).toHaveLength(logprobs.tokens!.length);
    for (const [i, top] of (logprobs.top_logprobs ?? []).entries()) {
      const keys = Object.keys(top);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      expect(keys.length).toBeLessThanOrEqual(4);
      expect(top[logprobs.tokens![i]!]).toBeCloseTo(logprobs.token_logprobs![i]!, 6);
      expect(Object.values(top).every((l) => l <= 0)).toBe(true);
    }
    for (const [extra, text] of [
      [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs must be an integer from 0 to 20, got 21'],
      [{ top_logprobs: 2 }, 'top_logprobs 2 needs logprobs: true'],
    ] as const) {
      const error = await apiError(c.chat.completions.create({ ...greedy, max_tokens: 2, ...extra }));
      expect(error.status).toBe(400);
      expect(error.message).toContain(text);
    }
    const legacy = await apiError(c.completions.create({ model: 'tiny', prompt: 'x', max_tokens: 2, logprobs: 6 }));
    expect(legacy.message).toContain('logprobs must be an integer from 0 to 5, got 6');
  }, 120_000);
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
