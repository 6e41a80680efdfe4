import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learningRateForEpoch } from '../../src/actors/TunerActor/training/learningRateSchedule.js';
import { setGgufUint32 } from '../../src/actors/TunerActor/training/setGgufUint32.js';
import { buildTokenWindows, tokenWindowStarts } from '../../src/actors/TunerActor/training/tokenWindows.js';
import { isTrainableTensor } from '../../src/actors/TunerActor/training/trainableTensors.js';
import { resolveTrainingJob, type TrainingJob } from '../../src/actors/TunerActor/training/TrainingJob.js';
import {
  InvalidTrainingJobError,
  NotEnoughTokensError,
  TrainerCrashedError,
  TrainingErrorCode,
} from '../../src/actors/TunerActor/training/trainingErrors.js';
import { type DenseMatrix, truncatedSvd } from '../../src/actors/TunerActor/training/truncatedSvd.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/gguf/float16.js';
import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufValue } from '../../src/gguf/GgufValue.js';
import { GgufWriter } from '../../src/gguf/GgufWriter.js';
import { ActorError } from '../../src/messaging/errors.js';

const tokens = (count: number): number[] => Array.from({ length: count }, (_, i) => i % 100);

const job = (overrides: Partial<TrainingJob> = {}): TrainingJob => ({
  baseModelPath: '/models/base.gguf',
  outputPath: '/models/trained.gguf',
  train: [tokens(600)],
  contextSize: 256,
  epochs: 2,
  learningRate: 1e-3,
  ...overrides,
});

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('resolveTrainingJob', () => {
  it('fills in documented defaults', () => {
    const resolved = resolveTrainingJob(job());
    expect(resolved).toMatchObject({
      validation: [],
      batchSize: 256,
      microBatchSize: 256,
      stride: 128,
      minLearningRate: 1e-4,
      weightDecay: 0,
      optimizer: 'adamw',
      trainable: 'all',
      seed: 0,
      shuffle: true,
      keepContextLength: true,
      convertToF32: false,
    });
    expect(resolved.threads).toBeGreaterThanOrEqual(1);
  });

  it.each([
    [{ contextSize: 300 }, 'contextSize', 'context 300 is not a multiple of 256'],
    [{ contextSize: 512, batchSize: 384 }, 'batchSize', 'context 512 is not a multiple of batch 384'],
    [{ batchSize: 256, microBatchSize: 96 }, 'microBatchSize', 'batch 256 is not a multiple of micro-batch 96'],
    [{ batchSize: 512 }, 'batchSize', 'batchSize must be an integer from 1 to 256, got 512'],
    [{ learningRate: 0 }, 'learningRate', 'learning rate 0 is not above 0'],
    [{ minLearningRate: 0.5 }, 'minLearningRate', 'minimum learning rate 0.5 is not above 0 and at most the learning rate 0.001'],
    [{ epochs: 0 }, 'epochs', 'epochs must be an integer from 1'],
    [{ train: [[1, -2]] }, 'train', 'train[0][1] is -2, not a token id'],
    [{ trainable: { layers: ['x'] } as never }, 'trainable.layers', 'trainable.layers must be an array of block indices'],
    [{ outputPath: '/models/base.gguf' }, 'outputPath', 'outputPath must differ from baseModelPath'],
    [{ lora: { outputPath: '/out/lora.gguf', rank: 0 } }, 'lora.rank', 'lora.rank must be an integer from 1 to 65536, got 0'],
    [{ lora: { outputPath: '/models/base.gguf', rank: 8 } }, 'lora.outputPath', 'lora.outputPath must differ from outputPath and baseModelPath'],
    [{ lora: { outputPath: '/out/lora.gguf', rank: 8, alpha: -1 } }, 'lora.alpha', 'lora alpha -1 is not above 0'],
  ])('rejects %j naming the numbers', (overrides, field, message) => {
    const error = caught(() => resolveTrainingJob(job(overrides as Partial<TrainingJob>)));
    expect(error).toBeInstanceOf(InvalidTrainingJobError);
    expect(error).toBeInstanceOf(ActorError);
    expect((error as InvalidTrainingJobError).code).toBe(TrainingErrorCode.InvalidTrainingJob);
    expect((error as InvalidTrainingJobError).field).toBe(field);
    expect((error as Error).message).toContain(message);
  });

  it('needs contextSize + 1 tokens per split for one window', () => {
    const train = caught(() => resolveTrainingJob(job({ train: [tokens(200), tokens(56)] })));
    expect(train).toBeInstanceOf(NotEnoughTokensError);
    expect((train as NotEnoughTokensError).code).toBe(TrainingErrorCode.NotEnoughTokens);
    expect((train as Error).message).toContain('not enough train tokens for one training window: 256 tokens, need at least 257');
    expect(() => resolveTrainingJob(job({ train: [tokens(257)] }))).not.toThrow();
    const validation = caught(() => resolveTrainingJob(job({ validation: [tokens(100)] })));
    expect((validation as Error).message).toContain('not enough validation tokens');
  });
});

describe('token windows', () => {
  it('cuts stride-spaced windows plus one aligned to the end of the stream', () => {
    expect(tokenWindowStarts(256, 256, 128)).toEqual([]);
    expect(tokenWindowStarts(257, 256, 128)).toEqual([0]);
    expect(tokenWindowStarts(600, 256, 128)).toEqual([0, 128, 256, 343]);
    expect(tokenWindowStarts(641, 256, 128)).toEqual([0, 128, 256, 384]);
  });

  it('joins sequences in order; labels are the next tokens', () => {
    const windows = buildTokenWindows([[1, 2, 3], [4, 5]], 2, 2);
    expect([...windows.stream]).toEqual([1, 2, 3, 4, 5]);
    expect(windows.starts).toEqual([0, 2]);
  });
});

describe('learning rate schedule', () => {
  it('decays geometrically from the first to the last epoch', () => {
    expect(learningRateForEpoch(0, 5, 1e-3, 1e-5)).toBeCloseTo(1e-3, 12);
    expect(learningRateForEpoch(2, 5, 1e-3, 1e-5)).toBeCloseTo(1e-4, 12);
    expect(learningRateForEpoch(4, 5, 1e-3, 1e-5)).toBeCloseTo(1e-5, 12);
    expect(learningRateForEpoch(0, 1, 1e-3, 1e-5)).toBe(1e-3);
    expect(learningRateForEpoch(3, 5, 2e-4, 2e-4)).toBe(2e-4);
  });
});

describe('trainable tensor filter', () => {
  it('matches layers, roles, globs and whole names', () => {
    const attention = { layers: [1], tensors: ['attn_q', 'attn_v'] };
    expect(isTrainableTensor('blk.1.attn_q.weight', attention)).toBe(true);
    expect(isTrainableTensor('blk.0.attn_q.weight', attention)).toBe(false);
    expect(isTrainableTensor('blk.1.attn_k.weight', attention)).toBe(false);
    expect(isTrainableTensor('blk.1.attn_q_norm.weight', attention)).toBe(false);
    expect(isTrainableTensor('output.weight', attention)).toBe(false);
    expect(isTrainableTensor('blk.7.ffn_gate.weight', { tensors: ['ffn_*'] })).toBe(true);
    expect(isTrainableTensor('blk.7.ffn_norm.weight', { tensors: ['ffn_*'] })).toBe(true);
    expect(isTrainableTensor('output.weight', { tensors: ['output'] })).toBe(true);
    expect(isTrainableTensor('output_norm.weight', { tensors: ['output'] })).toBe(false);
    expect(isTrainableTensor('output_norm.weight', { layers: [0] })).toBe(false);
    expect(isTrainableTensor('anything', 'all')).toBe(true);
    expect(isTrainableTensor('anything', {})).toBe(true);
  });
});

describe('truncatedSvd', () => {
  const matrix = (rows: number, columns: number, fill: (i: number, j: number) => number): DenseMatrix => {
    const data = new Float64Array(rows * columns);
    for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) data[i * columns + j] = fill(i, j);
    return { rows, columns, data };
  };
  const reconstruct = ({ u, s, v }: ReturnType<typeof truncatedSvd>): Float64Array => {
    const out = new Float64Array(u.rows * v.rows);
    for (let i = 0; i < u.rows; i++)
      for (let j = 0; j < v.rows; j++)
        for (let k = 0; k < s.length; k++) out[i * v.rows + j]! += u.data[i * s.length + k]! * s[k]! * v.data[j * s.length + k]!;
    return out;
  };
  const maxDifference = (a: Float64Array, b: Float64Array): number => a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i]!)), 0);
  // A deterministic "random" matrix with a slowly decaying spectrum.
  const noisy = matrix(40, 24, (i, j) => Math.sin(1.3 * i + 0.7 * j * j + 0.1) + 0.1 * Math.cos(i * j));

  it('reproduces a matrix exactly at full rank', () => {
    const svd = truncatedSvd(noisy, 24);
    expect(svd.rank).toBe(24);
    expect(maxDifference(reconstruct(svd), noisy.data)).toBeLessThan(1e-10);
    for (let k = 1; k < svd.s.length; k++) expect(svd.s[k]!).toBeLessThanOrEqual(svd.s[k - 1]!);
  });

  it('finds the singular values of a known matrix and an exact low-rank factorization', () => {
    const diagonal = matrix(5, 4, (i, j) => (i === j ? [3, 7, 1, 5][i]! : 0));
    expect([...truncatedSvd(diagonal, 2).s].map((s) => Math.round(s * 1e9) / 1e9)).toEqual([7, 5]);
    const rankTwo = matrix(30, 20, (i, j) => (i + 1) * Math.cos(j) + Math.sin(i) * (j - 3));
    const svd = truncatedSvd(rankTwo, 2, { oversampling: 2 });
    expect(maxDifference(reconstruct(svd), rankTwo.data)).toBeLessThan(1e-9);
  });

  it('gives a best-approximation error close to the discarded singular values', () => {
    const exact = truncatedSvd(noisy, 24);
    const svd = truncatedSvd(noisy, 4, { powerIterations: 3 });
    const approximation = reconstruct(svd);
    let error = 0;
    for (let i = 0; i < approximation.length; i++) error += (approximation[i]! - noisy.data[i]!) ** 2;
    let tail = 0;
    for (let k = 4; k < 24; k++) tail += exact.s[k]! ** 2;
    expect(Math.sqrt(error)).toBeLessThan(Math.sqrt(tail) * 1.05);
  });
});

describe('float16', () => {
  it('decodes what float32ToFloat16 encodes', () => {
    const values = Float32Array.of(0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, Infinity, 0.1);
    const halves = new Uint16Array(values.length);
    float32ToFloat16(values, halves);
    const back = new Float32Array(values.length);
    float16ToFloat32(halves, back);
    expect([...back].slice(0, 8)).toEqual([...values].slice(0, 8));
    expect(back[8]).toBeCloseTo(0.1, 3);
    float16ToFloat32(Uint16Array.of(0x7e00), back.subarray(0, 1));
    expect(back[0]).toBeNaN();
  });
});

describe('setGgufUint32', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'llama-actors-gguf-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('overwrites one uint32 in place, walking past strings and arrays', async () => {
    const path = join(directory, 'x.gguf');
    await new GgufWriter()
      .set('general.architecture', GgufValue.string('llama'))
      .set('tokenizer.ggml.tokens', GgufValue.strings(['a', 'bb', 'ccc']))
      .set('tokenizer.ggml.scores', GgufValue.float32s([1, 2, 3]))
      .set('llama.context_length', GgufValue.uint32(256))
      .addTensor('t', GgmlType.F32, [4], Float32Array.of(1, 2, 3, 4))
      .writeTo(path);
    const before = await readFile(path);
    expect(setGgufUint32(path, 'llama.context_length', 4096)).toBe(256);
    expect(setGgufUint32(path, 'llama.context_length', 512)).toBe(4096);
    expect(setGgufUint32(path, 'llama.missing', 1)).toBeUndefined();
    const after = await readFile(path);
    expect(after.length).toBe(before.length);
    const differing = [...after].flatMap((byte, i) => (byte === before[i] ? [] : [i]));
    expect(differing.length).toBeGreaterThan(0);
    expect(differing.length).toBeLessThanOrEqual(4);
    expect(() => setGgufUint32(path, 'general.architecture', 1)).toThrow('has type 8, not uint32');
  });
});

describe('TrainerCrashedError', () => {
  it('names the signal and the last stderr lines', () => {
    const error = new TrainerCrashedError(null, 'SIGABRT', ['GGML_ASSERT(n_batch % n_ubatch == 0) failed']);
    expect(error.code).toBe('TRAINER_CRASHED');
    expect(error.message).toContain('killed by SIGABRT');
    expect(error.message).toContain('GGML_ASSERT(n_batch % n_ubatch == 0) failed');
    expect(new TrainerCrashedError(1, null, []).message).toBe('trainer process exited with code 1 before finishing');
  });
});
