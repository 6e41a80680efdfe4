import { describe, expect, it } from 'vitest';
import { prepareTrainingData } from '../../src/actors/TunerActor/prepareTrainingData.js';
import { type TrainingConversation, TunerErrorCode, validateTrainingConfig } from '../../src/index.js';

describe('validateTrainingConfig', () => {
  it('fills in the defaults', () => {
    expect(validateTrainingConfig({})).toEqual({
      loraRank: 8,
      loraAlpha: 8,
      learningRate: 1e-3,
      epochs: 3,
      batchSize: 1,
      useQLoRA: false,
      qLoRAConfig: undefined,
    });
    expect(validateTrainingConfig({ loraRank: 16, loraAlpha: 32 })).toMatchObject({ loraRank: 16, loraAlpha: 32 });
  });

  it.each([
    [{ loraRank: 0 }, TunerErrorCode.InvalidLoraRank, 'invalid LoRA rank: 0 (must be an integer from 1 to 1024)'],
    [{ loraRank: 2.5 }, TunerErrorCode.InvalidLoraRank, 'invalid LoRA rank: 2.5 (must be an integer from 1 to 1024)'],
    [{ loraRank: 4096 }, TunerErrorCode.InvalidLoraRank, 'invalid LoRA rank: 4096 (must be an integer from 1 to 1024)'],
    [{ learningRate: 0 }, TunerErrorCode.InvalidLearningRate, 'invalid learning rate: 0 (must be a number above 0 and at most 1)'],
    [{ learningRate: -1e-4 }, TunerErrorCode.InvalidLearningRate, 'invalid learning rate: -0.0001 (must be a number above 0 and at most 1)'],
    [{ learningRate: Number.NaN }, TunerErrorCode.InvalidLearningRate, 'invalid learning rate: NaN (must be a number above 0 and at most 1)'],
    [{ epochs: 0 }, TunerErrorCode.InvalidEpochs, 'invalid epochs: 0 (must be an integer from 1 to 10000)'],
    [{ epochs: 1.5 }, TunerErrorCode.InvalidEpochs, 'invalid epochs: 1.5 (must be an integer from 1 to 10000)'],
    [{ batchSize: 0 }, TunerErrorCode.InvalidBatchSize, 'invalid batch size: 0 (must be an integer from 1 to 4096)'],
    [{ loraAlpha: 0 }, TunerErrorCode.InvalidTrainingConfig, 'invalid training config: loraAlpha must be a number above 0, got 0'],
    [{ rank: 8 }, TunerErrorCode.InvalidTrainingConfig, 'invalid training config: unknown setting "rank"'],
    [{ useQLoRA: true }, TunerErrorCode.InvalidTrainingConfig, 'invalid training config: useQLoRA is true but qLoRAConfig is missing'],
    [
      { useQLoRA: true, qLoRAConfig: { quantType: 'q4' } },
      TunerErrorCode.InvalidTrainingConfig,
      'invalid training config: qLoRAConfig.quantType must be one of nf4, fp4, int8, got "q4"',
    ],
    [
      { useQLoRA: true, qLoRAConfig: { quantType: 'nf4', computeDtype: 'int4' } },
      TunerErrorCode.InvalidTrainingConfig,
      'invalid training config: qLoRAConfig.computeDtype must be one of float16, bfloat16, float32, got "int4"',
    ],
    [
      { qLoRAConfig: { quantType: 'nf4' } },
      TunerErrorCode.InvalidTrainingConfig,
      'invalid training config: qLoRAConfig is set but useQLoRA is not true',
    ],
  ])('refuses %j with %s', (config, code, message) => {
    let error: unknown;
    try {
      validateTrainingConfig(config as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code });
    expect((error as Error).message.startsWith(message)).toBe(true);
  });

  it('accepts a QLoRA config in the reference API’s shape (the backend decides whether it can run it)', () => {
    expect(
      validateTrainingConfig({ loraRank: 8, useQLoRA: true, qLoRAConfig: { quantType: 'nf4', useDoubleQuant: true, computeDtype: 'float16' } }),
    ).toMatchObject({ useQLoRA: true, qLoRAConfig: { quantType: 'nf4', useDoubleQuant: true, computeDtype: 'float16' } });
  });
});

/** A stand-in chat tokenizer: one token per word, the assistant turns marked; enough for the split logic. */
async function wordTokens(messages: TrainingConversation['messages']) {
  const tokens: number[] = [];
  const assistantSpans: Array<[number, number]> = [];
  for (const message of messages) {
    const start = tokens.length;
    for (const word of String(message.content).split(' ')) tokens.push(word.length);
    if (message.role === 'assistant') assistantSpans.push([start, tokens.length]);
  }
  return { tokens, assistantSpans };
}

const data = (n: number): TrainingConversation[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    messages: [
      { role: 'user', content: 'a question' },
      { role: 'assistant', content: 'an answer of some words' },
    ],
  }));

describe('prepareTrainingData: the split', () => {
  it('is a function of the seed: the same seed the same split, every example exactly once', async () => {
    const options = { validationSplit: 0.25, contextSize: 100, tokenizeChat: wordTokens };
    const a = await prepareTrainingData(data(20), { ...options, seed: 11 });
    const b = await prepareTrainingData(data(20), { ...options, seed: 11 });
    expect(a.validation.map((e) => e.id)).toEqual(b.validation.map((e) => e.id));
    expect(a.counts).toMatchObject({ examples: 20, trainExamples: 15, validationExamples: 5, assistantTokens: 100 });
    expect([...a.train, ...a.validation].map((e) => e.id).sort()).toEqual(data(20).map((c) => c.id).sort());
    const seeds = await Promise.all([1, 2, 3].map((seed) => prepareTrainingData(data(20), { ...options, seed })));
    expect(new Set(seeds.map((d) => d.validation.map((e) => e.id).join())).size).toBeGreaterThan(1);
  });

  it('holds out at least one example but never all of them', async () => {
    const tiny = await prepareTrainingData(data(2), { validationSplit: 0.01, contextSize: 100, tokenizeChat: wordTokens });
    expect([tiny.counts.trainExamples, tiny.counts.validationExamples]).toEqual([1, 1]);
    const none = await prepareTrainingData(data(5), { validationSplit: 0, contextSize: 100, tokenizeChat: wordTokens });
    expect(none.validation).toEqual([]);
    const one = await prepareTrainingData(data(1), { validationSplit: 0.5, contextSize: 100, tokenizeChat: wordTokens });
    expect(one.counts).toMatchObject({ trainExamples: 1, validationExamples: 0 });
  });

  it('sets aside examples longer than the context, and says so when none fits', async () => {
    const result = await prepareTrainingData(data(4), { contextSize: 7, tokenizeChat: wordTokens, validationSplit: 0 });
    expect(result.overlong).toEqual([]);
    await expect(prepareTrainingData(data(4), { contextSize: 6, tokenizeChat: wordTokens })).rejects.toMatchObject({
      code: TunerErrorCode.InvalidTrainingData,
      problem: 'no-examples-fit',
      message: 'none of the 4 conversations fits the context of 6 tokens (longest 7)',
    });
  });

  it('refuses duplicate ids and non-string content, naming the example', async () => {
    const duplicated = [...data(2), data(1)[0] as TrainingConversation];
    await expect(prepareTrainingData(duplicated, { contextSize: 100, tokenizeChat: wordTokens })).rejects.toMatchObject({
      problem: 'duplicate-id',
      example: 2,
      message: 'conversation 2 repeats the id "e0"',
    });
    const bad = [{ id: 'n', messages: [{ role: 'assistant', content: 42 }] }] as unknown as TrainingConversation[];
    await expect(prepareTrainingData(bad, { contextSize: 100, tokenizeChat: wordTokens })).rejects.toMatchObject({
      problem: 'invalid-content',
      message: 'conversation 0 ("n"): message 0 has no string content',
    });
  });
});
