import { describe, expect, it } from 'vitest';
import { resolveGenerationParams } from '../../src/actors/ModelActor/resolveGenerationParams.js';
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

  it('rejects a params value that is not an object', () => {
    expect(() => resolveGenerationParams(undefined, 'hot' as never)).toThrow('invalid parameter params: expected an object');
  });
});
