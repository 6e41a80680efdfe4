import { stat } from 'node:fs/promises';
import { LlamaCompletion, type Llama, type LlamaContext, type LlamaModel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDemoModel,
  ensureTinyAdapters,
  ensureTinyModel,
  type TinyAdapterPaths,
} from '../../scripts/make-models.js';
import { Corpus } from '../../scripts/models/Corpus.js';
import { DEMO_MODEL_PARAMS } from '../../scripts/models/demoModel.js';
import { TINY_MODEL_PARAMS } from '../../scripts/models/tinyModel.js';
import { getTestLlama } from './llama.js';

// One thread per context: on a 2-core machine the default thread count is far slower.
const THREADS = 1;

let llama: Llama;

beforeAll(async () => {
  llama = await getTestLlama();
});

/** Generates from a fresh context (optionally with LoRA adapters), disposing it afterwards. */
async function complete(
  model: LlamaModel,
  prompt: string,
  options: { maxTokens: number; temperature?: number; seed?: number; lora?: string },
): Promise<string> {
  const context = await model.createContext({
    contextSize: 256,
    threads: THREADS,
    ...(options.lora === undefined ? {} : { lora: { adapters: [{ filePath: options.lora, scale: 1 }] } }),
  });
  try {
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    return await completion.generateCompletion(prompt, {
      maxTokens: options.maxTokens,
      temperature: options.temperature ?? 0,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
  } finally {
    await context.dispose();
  }
}

describe('tiny model', () => {
  let path: string;
  let model: LlamaModel;
  let context: LlamaContext;

  beforeAll(async () => {
    path = await ensureTinyModel();
    model = await llama.loadModel({ modelPath: path });
    context = await model.createContext({ contextSize: 256, threads: THREADS });
  });

  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
  });

  it('is a small llama with the generated shape', async () => {
    expect((await stat(path)).size).toBeLessThan(1024 * 1024);
    expect(model.fileInfo.metadata.general.architecture).toBe('llama');
    expect(model.fileInfo.metadata.tokenizer.ggml.tokens).toHaveLength(TINY_MODEL_PARAMS.vocabSize);
    expect(model.trainContextSize).toBe(TINY_MODEL_PARAMS.contextLength);
    expect(model.embeddingVectorSize).toBe(TINY_MODEL_PARAMS.embeddingLength);
    expect(model.vocabularyType).toBe('spm');
    expect(model.tokens.bos).toBe(1);
    expect(model.tokens.eos).toBe(2);
    expect(model.fileInfo.metadata.tokenizer.chat_template).toContain('<|im_start|>');
  });

  it('is cached: asking again returns the same file without rebuilding it', async () => {
    const before = (await stat(path)).mtimeMs;
    expect(await ensureTinyModel()).toBe(path);
    expect((await stat(path)).mtimeMs).toBe(before);
  });

  it('generates the requested number of tokens', async () => {
    const sequence = context.getSequence();
    try {
      const generated: Token[] = [];
      for await (const token of sequence.evaluate(model.tokenize('The actor', true), { temperature: 0 })) {
        generated.push(token);
        if (generated.length === 32) break;
      }
      expect(generated).toHaveLength(32);
      expect(model.detokenize(generated).length).toBeGreaterThan(0);
    } finally {
      sequence.dispose();
    }
  });

  it('tokenizes round-trip, including characters it has no piece for (byte fallback)', () => {
    const text = 'Actors reply: ok? ünïcode ✓';
    expect(model.detokenize(model.tokenize(text))).toBe(text);
  });

  it('is deterministic: greedy always, sampling for a given seed', async () => {
    const greedy = await complete(model, 'The actor', { maxTokens: 24 });
    expect(await complete(model, 'The actor', { maxTokens: 24 })).toBe(greedy);

    const sampled = await complete(model, 'The actor', { maxTokens: 24, temperature: 1, seed: 42 });
    expect(await complete(model, 'The actor', { maxTokens: 24, temperature: 1, seed: 42 })).toBe(sampled);
    const otherSeeds = await Promise.all(
      [1, 2, 3].map((seed) => complete(model, 'The actor', { maxTokens: 24, temperature: 1, seed })),
    );
    expect(otherSeeds.some((text) => text !== sampled)).toBe(true);
  });
});

describe('demo model', () => {
  const corpus = Corpus.load();
  const corpusUnits = new Set(corpus.unitsByFrequency());
  let path: string;
  let model: LlamaModel;

  beforeAll(async () => {
    path = await ensureDemoModel();
    model = await llama.loadModel({ modelPath: path });
  });

  afterAll(async () => {
    await model?.dispose();
  });

  /** Units of generated text that the corpus never uses. */
  function foreignUnits(text: string): string[] {
    const units = new Corpus(text).paragraphs.flat();
    expect(units.length).toBeGreaterThan(5);
    // Anything outside words, punctuation and spaces (bytes, control text) would also be foreign.
    expect(text).toMatch(/^[A-Za-z0-9'.,;:!? -]*$/);
    return units.filter((unit) => !corpusUnits.has(unit));
  }

  it('stays under 20 MB', async () => {
    expect((await stat(path)).size).toBeLessThan(20 * 1024 * 1024);
  });

  it('tokenizes every corpus word to exactly one token', () => {
    expect(model.tokenize('actors')).toHaveLength(1);
    expect(model.detokenize(model.tokenize('actors'))).toBe('actors');
    const words = [...corpusUnits].filter((unit) => !Corpus.isPunctuation(unit));
    const split = words.filter((word) => model.tokenize(word).length !== 1);
    expect(split).toEqual([]);
  });

  it("has the corpus bigram's log-probabilities as its logits", async () => {
    // Successor counts of one word, straight from the corpus.
    const word = 'model';
    const successors = new Map<string, number>();
    for (const paragraph of corpus.paragraphs) {
      paragraph.forEach((unit, i) => {
        const next = paragraph[i + 1];
        if (unit === word && next !== undefined) successors.set(next, (successors.get(next) ?? 0) + 1);
      });
    }
    const total = [...successors.values()].reduce((a, b) => a + b, 0);
    const [best, bestCount] = [...successors].sort((a, b) => b[1] - a[1])[0]!;
    // Add-k smoothing over every unit plus end of text, as the generator does.
    const k = DEMO_MODEL_PARAMS.smoothing;
    const expected = Math.log((bestCount + k) / (total + k * (corpusUnits.size + 1)));

    const context = await model.createContext({ contextSize: 64, threads: THREADS });
    try {
      const input = model.tokenize(`The ${word}`, true);
      const lastIndex = input.length - 1;
      const results = await context.getSequence().controlledEvaluate(
        input.map((token, i) => (i < lastIndex ? token : [token, { generateNext: { logits: true } }])),
      );
      const logits = results[lastIndex]?.next.logits;
      if (logits === undefined) throw new Error('no logits returned');

      const [bestToken] = model.tokenize(best);
      expect(logits.get(bestToken!)).toBeCloseTo(expected, 2);
      // Log-probabilities need no normalization: exponentiated, they already sum to one.
      const mass = [...logits.values()].reduce((sum, logit) => sum + Math.exp(logit), 0);
      expect(mass).toBeCloseTo(1, 2);
    } finally {
      await context.dispose();
    }
  });

  it('writes only corpus words when greedy', async () => {
    const text = await complete(model, 'The model actor', { maxTokens: 48 });
    expect(foreignUnits(text)).toEqual([]);
  });

  it('writes only corpus words when sampling, and more than a loop of them', async () => {
    const text = await complete(model, 'A stream', { maxTokens: 64, temperature: 0.8, seed: 7 });
    expect(foreignUnits(text)).toEqual([]);
    expect(new Set(new Corpus(text).paragraphs.flat()).size).toBeGreaterThan(15);
  });
});

describe('tiny LoRA adapters', () => {
  let adapters: TinyAdapterPaths;
  let model: LlamaModel;

  beforeAll(async () => {
    adapters = await ensureTinyAdapters();
    model = await llama.loadModel({ modelPath: await ensureTinyModel() });
  });

  afterAll(async () => {
    await model?.dispose();
  });

  it('the valid adapter loads and changes greedy output at scale 1', async () => {
    const base = await complete(model, 'The actor', { maxTokens: 16 });
    const adapted = await complete(model, 'The actor', { maxTokens: 16, lora: adapters.valid });
    expect(adapted).not.toBe(base);
    // The adapter applies per context: a context without it is back to the base output.
    expect(await complete(model, 'The actor', { maxTokens: 16 })).toBe(base);
  });

  it('the adapter with wrong shapes is refused, and the model keeps working', async () => {
    await expect(complete(model, 'The actor', { maxTokens: 4, lora: adapters.badShape })).rejects.toThrow(/LoRA/);
    expect(await complete(model, 'The actor', { maxTokens: 4 })).not.toBe('');
  });
});
