import { describe, expect, it } from 'vitest';
import { resolveGenerationParams, resolveTopLogprobs } from '../../src/actors/ModelActor/resolveGenerationParams.js';
import { InvalidParameterError } from '../../src/index.js';

describe('resolveGenerationParams', () => {
  it('fills documented defaults and lets request values override actor defaults', () => {
    expect(resolveGenerationParams(undefined, undefined)).toEqual({
      maxTokens: 256,
      temperature: 0.7,
      topK: 40,
      topP: 0.95,
      minP: 0.05,
      seed: undefined,
      repeatPenalty: undefined,
      stop: [],
      jsonSchema: undefined,
      logitBias: [],
    });
    const resolved = resolveGenerationParams(
      { temperature: 0.2, maxTokens: 10 },
      { maxTokens: 5, repeatPenalty: { penalty: 1.3 }, stop: ['\n'] },
    );
    expect(resolved).toMatchObject({
      temperature: 0.2,
      maxTokens: 5,
      stop: ['\n'],
      repeatPenalty: { penalty: 1.3, lastTokens: 64, frequencyPenalty: 0, presencePenalty: 0 },
    });
    expect(resolveGenerationParams({ repeatPenalty: { penalty: 1.2 } }, { repeatPenalty: false }).repeatPenalty).toBeUndefined();
  });

  it.each([
    [{ temperature: Number.NaN }, 'temperature: expected a number, got NaN'],
    [{ topK: 1.5 }, 'topK: expected an integer, got 1.5'],
    [{ minP: -0.1 }, 'minP: -0.1 is outside 0..1'],
    [{ stop: Array(17).fill('x') }, 'stop: 17 stop strings, limit 16'],
    [{ jsonSchema: [] }, 'jsonSchema: expected a JSON schema object'],
    [{ repeatPenalty: 3 }, 'repeatPenalty: expected an object or false, got 3'],
    [{ repeatPenalty: { lastTokens: -1 } }, 'repeatPenalty.lastTokens: -1 is outside'],
    // Found by the fuzzer: logits divided by ~0 overflow, and a grammar-constrained sampler then never ends.
    [{ repeatPenalty: { penalty: 1.6873695822453927e-85 } }, 'repeatPenalty.penalty: 1.6873695822453927e-85 is outside 0.01..10'],
    [{ repeatPenalty: { penalty: 0 } }, 'repeatPenalty.penalty: 0 is outside 0.01..10'],
  ])('rejects %j', (params, message) => {
    expect(() => resolveGenerationParams(undefined, params as never)).toThrow(InvalidParameterError);
    expect(() => resolveGenerationParams(undefined, params as never)).toThrow(message);
  });

  it('logitBias: ids sorted, zero biases dropped, the edges of −100..100 accepted', () => {
    const { logitBias } = resolveGenerationParams(undefined, { logitBias: { 7: 100, 3: -100, 5: 0, 0: 1.5 } }, 512);
    expect(logitBias).toEqual([
      { token: 0, bias: 1.5 },
      { token: 3, bias: -100 },
      { token: 7, bias: 100 },
    ]);
    expect(resolveGenerationParams(undefined, { logitBias: { 511: 1 } }, 512).logitBias).toEqual([{ token: 511, bias: 1 }]);
  });

  it.each([
    [{ 512: 1 }, 'logitBias: token 512 is outside the vocabulary of 512 tokens (ids 0..511)'],
    [{ 99999: -100 }, 'token 99999 is outside the vocabulary of 512 tokens'],
    [{ 42: 100.5 }, 'logitBias.42: 100.5 is outside -100..100'],
    [{ 42: -101 }, 'logitBias.42: -101 is outside -100..100'],
    [{ 42: Number.NaN }, 'logitBias.42: expected a number, got NaN'],
    [{ 42: 'high' }, 'logitBias.42: expected a number, got "high"'],
    [{ '-1': 5 }, 'logitBias: token ids are integers ≥ 0, got "-1"'],
    [{ '1.5': 5 }, 'token ids are integers ≥ 0, got "1.5"'],
    [{ '007': 5 }, 'token ids are integers ≥ 0, got "007"'],
    [[1, 2], 'logitBias: expected an object of token id → bias, got [1,2]'],
    ['x', 'logitBias: expected an object of token id → bias, got "x"'],
  ])('rejects logitBias %j', (logitBias, message) => {
    const resolve = () => resolveGenerationParams(undefined, { logitBias } as never, 512);
    expect(resolve).toThrow(InvalidParameterError);
    expect(resolve).toThrow(message);
  });

  it('topLogprobs: an integer 0..20, 0 when absent', () => {
    expect(resolveTopLogprobs(undefined)).toBe(0);
    expect(resolveTopLogprobs(0)).toBe(0);
    expect(resolveTopLogprobs(20)).toBe(20);
    for (const [value, message] of [
      [21, 'topLogprobs: 21 is outside 0..20'],
      [-1, 'topLogprobs: -1 is outside 0..20'],
      [2.5, 'topLogprobs: expected an integer, got 2.5'],
      ['3', 'topLogprobs: expected a number, got "3"'],
    ] as const) {
      expect(() => resolveTopLogprobs(value)).toThrow(InvalidParameterError);
      expect(() => resolveTopLogprobs(value)).toThrow(message);
    }
  });

  it('rejects a params value that is not an object', () => {
    expect(() => resolveGenerationParams(undefined, 'hot' as never)).toThrow('invalid parameter params: expected an object');
  });
});
