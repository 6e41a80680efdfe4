import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { rowLogprobs, tokenLogprob } from '../../src/actors/ModelActor/native/nativeLogprobs.js';
import { packLogitBias } from '../../src/actors/ModelActor/native/nativeSampler.js';
import { MIN_LOGPROB, nodeLlamaTopLogprobs, topLogprobTexts } from '../../src/actors/ModelActor/topLogprobs.js';
import { InvalidArgumentError } from '../../src/index.js';
import { openAiLogprobs } from '../../src/server/openaiChoices.js';
import { checkUnsupported, LogprobEntries, openAiLogitBias } from '../../src/server/openaiParams.js';
import { chatCompletionsSchema } from '../../src/server/schemas/openai.js';
import { AJV_OPTIONS, RequestValidationError, schemaErrorFormatter } from '../../src/server/schemas/validation.js';

const validateChat = new Ajv(AJV_OPTIONS.customOptions).compile(chatCompletionsSchema.body as object);
/** What the chat route's schema says of a body with these fields: the error's message and param, or undefined when it passes. */
function chatBodyError(fields: object): { message: string; param: string } | undefined {
  if (validateChat({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], ...fields })) return undefined;
  const error = schemaErrorFormatter(validateChat.errors ?? [], 'body') as RequestValidationError;
  return { message: error.message, param: error.param };
}

/**
 * The pure parts of `logit_bias` and `top_logprobs`: the native engine's log-softmax and bias
 * packing, node-llama-cpp's probabilities cut to the top k, and the OpenAI request checks and
 * response shapes. The engines themselves are tested in test/model/openaiParams.test.ts.
 */

describe('rowLogprobs (the native engine’s log-softmax of a logits row)', () => {
  const logits = new Float32Array([1, 3, -2, 3, 0.5, 2]);
  const logSum = Math.log([...logits].reduce((sum, l) => sum + Math.exp(l), 0));

  it('the top k by logit, most likely first, ties by the lower id; the chosen token’s logprob', () => {
    const row = rowLogprobs(logits, 5, 3);
    expect(row.top.map((t) => t.token)).toEqual([1, 3, 5]);
    for (const { token, logprob } of row.top) expect(logprob).toBeCloseTo((logits[token] as number) - logSum, 5);
    expect(row.logprob).toBeCloseTo(2 - logSum, 5);
    expect(row.logprob).toBe(row.top[2]!.logprob);
    expect(tokenLogprob(logits, 5)).toBe(row.logprob);
  });

  it('k = vocabulary gives the whole distribution, sorted, summing to 1; k = 0 gives none', () => {
    const row = rowLogprobs(logits, 0, logits.length);
    expect(row.top.map((t) => t.token)).toEqual([1, 3, 5, 0, 4, 2]);
    expect(row.top.reduce((sum, t) => sum + Math.exp(t.logprob), 0)).toBeCloseTo(1, 6);
    expect(rowLogprobs(logits, 0, 0).top).toEqual([]);
  });

  it('a large row: the same top as a full sort', () => {
    const big = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 12.9898) * 10);
    const expected = [...big.keys()].sort((a, b) => (big[b] as number) - (big[a] as number) || a - b).slice(0, 20);
    expect(rowLogprobs(big, 0, 20).top.map((t) => t.token)).toEqual(expected);
  });
});

describe('packLogitBias', () => {
  it('lays out llama_logit_bias { int32 token; float bias; }', () => {
    const bytes = packLogitBias([
      { token: 7, bias: -100 },
      { token: 300, bias: 2.5 },
    ]);
    expect(bytes.byteLength).toBe(16);
    const ints = new Int32Array(bytes.buffer);
    const floats = new Float32Array(bytes.buffer);
    expect([ints[0], floats[1], ints[2], floats[3]]).toEqual([7, -100, 300, 2.5]);
  });
});

describe("node-llama-cpp's probabilities", () => {
  it('cut to the first k, as log-probabilities, with the confidence kept', async () => {
    async function* outputs() {
      yield { token: 4, confidence: 0.5, probabilities: new Map([[4, 0.5], [9, 0.3], [1, 0.2]]) };
      yield { token: 9, probabilities: new Map([[9, 1]]) };
    }
    const tokens = [];
    for await (const token of nodeLlamaTopLogprobs(outputs() as never, 2)) tokens.push(token);
    expect(tokens).toEqual([
      { token: 4, confidence: 0.5, topLogprobs: [{ token: 4, logprob: Math.log(0.5) }, { token: 9, logprob: Math.log(0.3) }] },
      { token: 9, topLogprobs: [{ token: 9, logprob: 0 }] },
    ]);
  });

  it('texts detokenized after the preceding tokens; −Infinity floored', () => {
    const calls: number[][] = [];
    const model = { detokenize: (tokens: number[], _special: boolean, context: number[]) => (calls.push(context), `<${tokens[0]}>`) };
    const texts = topLogprobTexts(model as never, [{ token: 5, logprob: -Infinity }], [1, 2, 3, 4, 5, 6], [10, 11]);
    expect(texts).toEqual([{ tokenId: 5, text: '<5>', logprob: MIN_LOGPROB }]);
    expect(calls[0]).toEqual([4, 5, 6, 10]);
    topLogprobTexts(model as never, [], [], [1, 2, 3, 4, 5, 6]);
    expect(topLogprobTexts(model as never, [{ token: 1, logprob: -1 }], [], [1, 2, 3, 4, 5, 6])?.[0]?.logprob).toBe(-1);
    expect(calls[1]).toEqual([2, 3, 4, 5]);
    expect(topLogprobTexts(model as never, undefined, [], [])).toBeUndefined();
  });
});

describe('OpenAI logit_bias', () => {
  it('an object of token-id strings → numbers; empty or absent is none', () => {
    expect(openAiLogitBias({ logit_bias: { '42': -100, '7': 100, '0': 0.5 } })).toEqual({ 42: -100, 7: 100, 0: 0.5 });
    expect(openAiLogitBias({ logit_bias: {} })).toBeUndefined();
    expect(openAiLogitBias({ logit_bias: null })).toBeUndefined();
    expect(openAiLogitBias({})).toBeUndefined();
  });

  // Shapes and ranges are the route schema's: the same ajv options and formatter as the server.
  it.each([
    [[1], 'logit_bias must be an object or null, got [1]', 'logit_bias'],
    ['x', 'logit_bias must be an object or null, got "x"', 'logit_bias'],
    [{ abc: 1 }, 'logit_bias has a key "abc" that is not a token id (an integer ≥ 0)', 'logit_bias'],
    [{ '-3': 1 }, 'logit_bias has a key "-3" that is not a token id (an integer ≥ 0)', 'logit_bias'],
    [{ '42': 150 }, 'logit_bias[42] must be a number from -100 to 100, got 150', 'logit_bias[42]'],
    [{ '42': -100.1 }, 'logit_bias[42] must be a number from -100 to 100, got -100.1', 'logit_bias[42]'],
    [{ '42': '5' }, 'logit_bias[42] must be a number from -100 to 100, got "5"', 'logit_bias[42]'],
  ])('refuses %j', (logit_bias, message, param) => {
    expect(chatBodyError({ logit_bias })).toEqual({ message, param });
  });
});

describe('OpenAI top_logprobs / logprobs: k', () => {
  it('chat: top_logprobs 0..20 with logprobs: true; legacy: logprobs 0..5', () => {
    expect(checkUnsupported({ logprobs: true, top_logprobs: 20 })).toEqual({ logprobs: true, topLogprobs: 20, n: 1 });
    expect(checkUnsupported({ logprobs: true })).toEqual({ logprobs: true, topLogprobs: 0, n: 1 });
    expect(checkUnsupported({ top_logprobs: 0 })).toEqual({ logprobs: false, topLogprobs: 0, n: 1 });
    expect(checkUnsupported({ logprobs: 5 })).toEqual({ logprobs: true, topLogprobs: 5, n: 1 });
    expect(checkUnsupported({ logprobs: 0 })).toEqual({ logprobs: true, topLogprobs: 0, n: 1 });
  });

  it.each([
    [{ logprobs: true, top_logprobs: 21 }, 'top_logprobs must be an integer from 0 to 20, got 21'],
    [{ logprobs: true, top_logprobs: 1.5 }, 'top_logprobs must be an integer from 0 to 20 or null, got 1.5'],
    [{ logprobs: 6 }, 'logprobs must be an integer from 0 to 5, got 6'],
  ])('the route schema refuses %j', (body, message) => {
    expect(chatBodyError(body)?.message).toBe(message);
  });

  it.each([
    [{ top_logprobs: 3 }, 'top_logprobs 3 needs logprobs: true'],
    [{ logprobs: false, top_logprobs: 3 }, 'top_logprobs 3 needs logprobs: true'],
  ])('refuses %j', (body, message) => {
    expect(chatBodyError(body)).toBeUndefined();
    expect(() => checkUnsupported(body)).toThrow(InvalidArgumentError);
    expect(() => checkUnsupported(body)).toThrow(message);
  });

  const alternatives = [
    { tokenId: 1, text: ' a', logprob: -0.1 },
    { tokenId: 2, text: 'é', logprob: -2.5 },
  ];

  it('entries carry {token, logprob, bytes} alternatives; a held-back token’s alternatives lead its entry', () => {
    const entries = new LogprobEntries();
    expect(entries.push({ content: ' a', logprob: -0.1, topLogprobs: alternatives })).toEqual({
      token: ' a',
      logprob: -0.1,
      bytes: [32, 97],
      top_logprobs: [
        { token: ' a', logprob: -0.1, bytes: [32, 97] },
        { token: 'é', logprob: -2.5, bytes: [0xc3, 0xa9] },
      ],
    });
    expect(entries.push({ content: '', logprob: -1, topLogprobs: [alternatives[1]!] })).toBeUndefined();
    const merged = entries.push({ content: 'xy', logprob: -2, topLogprobs: [alternatives[0]!] });
    expect(merged?.logprob).toBe(-3);
    expect(merged?.top_logprobs.map((t) => t.token)).toEqual(['é']);
    expect(entries.push({ content: 'z', logprob: -1 })?.top_logprobs).toEqual([]);
  });

  it('legacy completions: {token: logprob} with the chosen token added, {} when none were asked for', () => {
    const entries = new LogprobEntries();
    const chosenAmong = entries.push({ content: ' a', logprob: -0.1, topLogprobs: alternatives })!;
    const chosenNot = entries.push({ content: 'q', logprob: -4, topLogprobs: alternatives })!;
    const none = entries.push({ content: 'r', logprob: -1 })!;
    const legacy = openAiLogprobs('text', [chosenAmong, chosenNot, none], 0) as { top_logprobs: unknown[] };
    expect(legacy.top_logprobs).toEqual([{ ' a': -0.1, é: -2.5 }, { ' a': -0.1, é: -2.5, q: -4 }, {}]);
    const proto = openAiLogprobs('text', [{ token: '__proto__', logprob: -1, bytes: [], top_logprobs: [{ token: '__proto__', logprob: -1, bytes: [] }] }], 0);
    expect(JSON.stringify(proto.top_logprobs)).toBe('[{"__proto__":-1}]');
  });
});
