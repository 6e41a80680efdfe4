import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as koffi from 'koffi';
import { LlamaCompletion, type Llama, type LlamaModel, readGgufFileInfo, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { extractLora, type LoraExtractionResult } from '../../src/actors/TunerActor/training/extractLora.js';
// Only the koffi type declarations: loading llama.cpp itself happens in child processes (see nativeProbe.ts).
import {
  GgmlOptOptimizerParams,
  LlamaBatch,
  LlamaContextParams,
  LlamaFtype,
  LlamaModelParams,
  LlamaModelQuantizeParams,
  LlamaOptParams,
} from '../../src/actors/TunerActor/training/llamaNative.js';
import { preflightTrainingJob } from '../../src/actors/TunerActor/training/preflightTrainingJob.js';
import { TrainerProcess } from '../../src/actors/TunerActor/training/TrainerProcess.js';
import type { TrainingOutcome, TrainingProgress } from '../../src/actors/TunerActor/training/TrainerMessage.js';
import type { TrainingJob } from '../../src/actors/TunerActor/training/TrainingJob.js';
import { TrainerCrashedError, TrainingErrorCode } from '../../src/actors/TunerActor/training/trainingErrors.js';
import { ActorError, ErrorCode } from '../../src/messaging/errors.js';
import { getTestLlama } from './llama.js';

const PROBE = fileURLToPath(new URL('./helpers/nativeProbe.ts', import.meta.url));
const LLAMA_FTYPE_MOSTLY_Q8_0 = 7;
const BUNDLE = fileURLToPath(new URL('../../node_modules/node-llama-cpp/llama/gitRelease.bundle', import.meta.url));

/**
 * A header of the llama.cpp release node-llama-cpp bundles. A fresh install has the source only as a
 * git bundle (`llama/llama.cpp/` exists only after a local build), so it is read from the bundle.
 */
async function bundledHeader(path: string): Promise<string> {
  const repository = await mkdtemp(join(tmpdir(), 'llama-actors-llama-cpp-'));
  try {
    const git = (...args: string[]) => promisify(execFile)('git', ['-C', repository, ...args], { maxBuffer: 64 << 20 });
    await git('init', '--quiet');
    await git('fetch', '--quiet', BUNDLE, 'HEAD');
    return (await git('show', `FETCH_HEAD:${path}`)).stdout;
  } finally {
    await rm(repository, { recursive: true, force: true });
  }
}
/** Tiny-model training is fastest on one thread: more spin in ggml_barrier on a 2-core machine. */
const THREADS = 1;
/** Only the 2-D weights: a LoRA can carry all of their change, so base + full-rank LoRA = trained. */
const MATRICES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'output'];

/** Runs nativeProbe.ts in a child process and parses the JSON it prints last. */
async function runProbe(...args: string[]): Promise<unknown> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', PROBE, ...args], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as unknown;
}

/** Field names and C sizes of `struct name { ... }` in a header, in order. */
function headerStruct(source: string, name: string): Array<{ field: string; size: number }> {
  const start = source.search(new RegExp(`struct ${name}\\s*\\{`));
  expect(start, `struct ${name} in the header`).toBeGreaterThanOrEqual(0);
  const open = source.indexOf('{', start);
  let depth = 0;
  let end = open;
  for (; end < source.length; end++) {
    if (source[end] === '{') depth++;
    if (source[end] === '}' && --depth === 0) break;
  }
  const body = source
    .slice(open + 1, end)
    .replace(/\/\/.*$/gm, '')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  return body
    .split(';')
    .map((declaration) => declaration.trim().replace(/\s+/g, ' '))
    .filter((declaration) => declaration !== '')
    .map((declaration) => {
      const field = /([A-Za-z_]\w*)$/.exec(declaration)![1]!;
      const type = declaration.slice(0, -field.length).trim();
      const size = type.includes('*') || /\b(size_t|ggml_backend_sched_eval_callback|ggml_abort_callback|llama_progress_callback|llama_opt_param_filter|ggml_opt_get_optimizer_params)\b/.test(type) ? 8 : /\bbool\b/.test(type) ? 1 : 4;
      return { field, size };
    });
}

/** Mean negative log-likelihood (nats per token) of `tokens` under `model` (+ an adapter), as node-llama-cpp computes it. */
async function meanLoss(model: LlamaModel, tokens: readonly Token[], lora?: string): Promise<number> {
  const context = await model.createContext({
    contextSize: 512,
    threads: THREADS,
    ...(lora === undefined ? {} : { lora: { adapters: [{ filePath: lora, scale: 1 }] } }),
  });
  try {
    const input = tokens.slice(0, -1).map((token): [Token, { generateNext: { probabilities: true } }] => [token, { generateNext: { probabilities: true } }]);
    const output = await context.getSequence().controlledEvaluate(input);
    let total = 0;
    for (let i = 0; i < input.length; i++) total -= Math.log(output[i]?.next.probabilities?.get(tokens[i + 1]!) ?? 1e-30);
    return total / input.length;
  } finally {
    await context.dispose();
  }
}

async function greedy(model: LlamaModel, prompt: string, lora?: string): Promise<string> {
  const context = await model.createContext({
    contextSize: 256,
    threads: THREADS,
    ...(lora === undefined ? {} : { lora: { adapters: [{ filePath: lora, scale: 1 }] } }),
  });
  try {
    return await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(prompt, { maxTokens: 16, temperature: 0 });
  } finally {
    await context.dispose();
  }
}

async function rejection(promise: Promise<unknown>): Promise<ActorError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ActorError);
    return error as ActorError;
  }
  throw new Error('expected a rejection');
}

describe('llama.cpp native bindings', () => {
  it('declare the structs of the bundled llama.h field by field', async () => {
    const [llamaH, optH] = await Promise.all([bundledHeader('include/llama.h'), bundledHeader('ggml/include/ggml-opt.h')]);
    for (const [name, type, source] of [
      ['llama_model_params', LlamaModelParams, llamaH],
      ['llama_context_params', LlamaContextParams, llamaH],
      ['llama_opt_params', LlamaOptParams, llamaH],
      ['llama_batch', LlamaBatch, llamaH],
      ['llama_model_quantize_params', LlamaModelQuantizeParams, llamaH],
    ] as const) {
      const declared = Object.values(type.members ?? {}).map((member) => ({ field: member.name, size: member.type.size }));
      expect(declared, name).toEqual(headerStruct(source, name));
    }
    // ggml_opt_optimizer_params nests two anonymous structs; the binding flattens them to 7 floats.
    expect(optH).toMatch(/struct \{\s*float alpha;[^}]*float beta1;[^}]*float beta2;[^}]*float eps;[^}]*float wd;[^}]*\} adamw;\s*struct \{\s*float alpha;[^}]*float wd;[^}]*\} sgd;/);
    expect(koffi.sizeof(GgmlOptOptimizerParams)).toBe(28);
  });

  it('read the default params back as llama.cpp sets them, with the sizes native code writes', async () => {
    const probe = (await runProbe('defaults')) as {
      model: Record<string, unknown>;
      context: Record<string, unknown>;
      quantize: Record<string, unknown>;
      optimizer: Record<string, number>;
      nativeSizes: Record<string, number>;
      koffiSizes: Record<string, number>;
    };
    expect(probe.model).toMatchObject({
      devices: null,
      n_gpu_layers: -1,
      split_mode: 1,
      load_mode: -1,
      lazy_mode: 1,
      main_gpu: 0,
      kv_overrides: null,
      vocab_only: false,
      use_extra_bufts: true,
      load_mtp: false,
    });
    expect(probe.context).toMatchObject({
      n_ctx: 512,
      n_batch: 2048,
      n_ubatch: 512,
      n_seq_max: 1,
      n_outputs_max_per_seq: 1,
      flash_attn_type: -1,
      yarn_ext_factor: -1,
      defrag_thold: -1,
      type_k: 1,
      type_v: 1,
      offload_kqv: true,
      no_perf: true,
      kv_unified: false,
      n_samplers: 0,
      ctx_other: null,
    });
    expect(probe.quantize).toMatchObject({ ftype: 7, quantize_output_tensor: true, imatrix: null, max_buf_size: 8 * 2 ** 30 });
    expect(probe.optimizer.adamw_alpha).toBeCloseTo(1e-3, 9);
    expect(probe.optimizer.adamw_beta2).toBeCloseTo(0.999, 7);
    expect(probe.optimizer.sgd_alpha).toBeCloseTo(1e-3, 9);
    if (process.platform === 'linux' && process.arch === 'x64') expect(probe.nativeSizes).toEqual(probe.koffiSizes);
    expect(probe.koffiSizes).toEqual({
      llama_model_default_params: koffi.sizeof(LlamaModelParams),
      llama_context_default_params: koffi.sizeof(LlamaContextParams),
      llama_model_quantize_default_params: koffi.sizeof(LlamaModelQuantizeParams),
    });
  });
});

describe('training on llama.cpp in a child process', () => {
  let llama: Llama;
  let base: LlamaModel;
  let basePath: string;
  let directory: string;
  let train: Token[][];
  let validation: Token[][];
  let job: (overrides?: Partial<TrainingJob>) => TrainingJob;
  let trained: TrainingOutcome;
  let trainedProgress: TrainingProgress[];
  let matricesOnly: TrainingOutcome;

  beforeAll(async () => {
    llama = await getTestLlama();
    basePath = await ensureTinyModel();
    base = await llama.loadModel({ modelPath: basePath });
    directory = await mkdtemp(join(tmpdir(), 'llama-actors-training-'));
    const corpus = await readFile(new URL('../../scripts/corpus/demo-corpus.txt', import.meta.url), 'utf8');
    const paragraphs = corpus.split(/\n\s*\n/).filter((paragraph) => paragraph.trim() !== '');
    const tokenize = (text: string): Token[] => [base.tokens.bos!, ...base.tokenize(text), base.tokens.eos!];
    // Held out: validation text is other paragraphs of the same corpus, never trained on.
    train = paragraphs.slice(0, 5).map(tokenize);
    validation = paragraphs.slice(5, 7).map(tokenize);
    job = (overrides = {}) => ({
      baseModelPath: basePath,
      outputPath: join(directory, 'trained.gguf'),
      train,
      validation,
      contextSize: 256,
      stride: 256,
      epochs: 6,
      learningRate: 2e-3,
      minLearningRate: 2e-4,
      threads: THREADS,
      ...overrides,
    });
  });

  afterAll(async () => {
    await base?.dispose();
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  it('trains the tiny model: validation loss goes down and the GGUF loads in node-llama-cpp', async () => {
    const trainer = new TrainerProcess();
    trainedProgress = [];
    trained = await trainer.run(job(), { onProgress: (progress) => trainedProgress.push(progress) });

    expect(trained.outputPath).toBe(join(directory, 'trained.gguf'));
    expect(trained.history.map((entry) => entry.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const first = trained.history[1]!;
    expect(trained.initialValidationLoss).toBeGreaterThan(5);
    expect(trained.validationLoss!).toBeLessThan(trained.initialValidationLoss! - 1);
    expect(trained.trainLoss).toBeLessThan(first.trainLoss!);
    expect(trained.info).toMatchObject({ contextSize: 256, vocabularySize: 512, baseContextLength: 512, convertedToF32: false });
    // llama.cpp never trains the token embedding.
    expect(trained.info.trainableTensors).not.toContain('token_embd.weight');
    expect(trained.info.trainableTensors).toContain('blk.1.ffn_down.weight');
    expect(trained.tokensPerSecond).toBeGreaterThan(0);
    console.info(
      `[training] loss ${trained.initialValidationLoss!.toFixed(3)} → ${trained.validationLoss!.toFixed(3)} (validation), ` +
        `${first.trainLoss!.toFixed(3)} → ${trained.trainLoss.toFixed(3)} (train) in ${trained.history.length - 1} epochs; ` +
        `${Math.round(trained.tokensPerSecond)} tokens/s, ${(trained.durationMs / 1000).toFixed(2)} s`,
    );

    const completed = trainedProgress.filter((progress) => progress.epochComplete);
    expect(completed.map((progress) => progress.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(completed.at(-1)).toMatchObject({ step: trained.info.stepsPerEpoch, etaMs: 0, validationLoss: trained.validationLoss });
    expect(completed[0]!.learningRate).toBeCloseTo(2e-3, 9);
    expect(completed.at(-1)!.learningRate).toBeCloseTo(2e-4, 9);

    // The trained file loads, keeps the base model's context length, and models the held-out text better.
    expect(existsSync(`${trained.outputPath}.partial`)).toBe(false);
    const info = await readGgufFileInfo(trained.outputPath, { logWarnings: false });
    expect(info.architectureMetadata.context_length).toBe(512);
    const model = await llama.loadModel({ modelPath: trained.outputPath });
    try {
      const heldOut = validation[0]!;
      const baseLoss = await meanLoss(base, heldOut);
      const trainedLoss = await meanLoss(model, heldOut);
      expect(trainedLoss).toBeLessThan(baseLoss - 1);
      expect((await greedy(model, 'The actor')).length).toBeGreaterThan(0);
    } finally {
      await model.dispose();
    }
  });

  it('stops mid-epoch: the child is killed and neither the output nor the .partial file is left', async () => {
    const trainer = new TrainerProcess();
    const controller = new AbortController();
    const outputPath = join(directory, 'stopped.gguf');
    let pid: number | undefined;
    let midEpoch: TrainingProgress | undefined;
    const run = trainer.run(job({ outputPath, epochs: 10_000, progressIntervalMs: 0 }), {
      signal: controller.signal,
      onSpawn: (childPid) => (pid = childPid),
      onProgress: (progress) => {
        if (progress.epoch === 2 && !progress.epochComplete && midEpoch === undefined) {
          midEpoch = progress;
          controller.abort();
        }
      },
    });
    await expect(trainer.run(job(), {})).rejects.toMatchObject({ code: TrainingErrorCode.TrainerBusy });
    const error = await rejection(run);
    expect(error.code).toBe(ErrorCode.Aborted);
    expect(midEpoch!.step).toBeLessThan(midEpoch!.steps);
    expect(trainer.running).toBe(false);
    expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(existsSync(outputPath)).toBe(false);
    expect(existsSync(`${outputPath}.partial`)).toBe(false);
  });

  it('a trainer killed by a signal rejects with TRAINER_CRASHED naming the signal and its last stderr lines', async () => {
    const trainer = new TrainerProcess();
    const error = await rejection(
      trainer.run(job({ outputPath: join(directory, 'crashed.gguf') }), {
        // What a failed GGML_ASSERT does to the process.
        onStarted: () => process.kill(trainer.pid!, 'SIGABRT'),
      }),
    );
    expect(error).toBeInstanceOf(TrainerCrashedError);
    expect(error.code).toBe(TrainingErrorCode.TrainerCrashed);
    expect((error as TrainerCrashedError).signal).toBe('SIGABRT');
    expect((error as TrainerCrashedError).stderrTail.length).toBeGreaterThan(0);
    expect(error.message).toContain('killed by SIGABRT');
    expect(existsSync(join(directory, 'crashed.gguf'))).toBe(false);
  });

  it('rejects bad jobs with typed errors before starting any process', async () => {
    const quantized = join(directory, 'tiny-q8_0.gguf');
    expect(await runProbe('quantize', basePath, quantized, String(LLAMA_FTYPE_MOSTLY_Q8_0))).toEqual({ status: 0 });

    const trainer = new TrainerProcess();
    let spawned = 0;
    const attempt = (overrides: Partial<TrainingJob>) => rejection(trainer.run(job(overrides), { onSpawn: () => spawned++ }));

    expect(await attempt({ contextSize: 300 })).toMatchObject({
      code: TrainingErrorCode.InvalidTrainingJob,
      message: expect.stringContaining('context 300 is not a multiple of 256'),
    });
    expect(await attempt({ microBatchSize: 96 })).toMatchObject({
      code: TrainingErrorCode.InvalidTrainingJob,
      message: expect.stringContaining('batch 256 is not a multiple of micro-batch 96'),
    });
    expect(await attempt({ baseModelPath: quantized })).toMatchObject({
      code: TrainingErrorCode.QuantizedBaseModel,
      message: expect.stringMatching(/Q8_0 tensors .*cannot be trained by the llama\.cpp backend; use an F16 or F32 checkpoint/),
    });
    expect(await attempt({ train: [...train, [5, 512]] })).toMatchObject({
      code: TrainingErrorCode.TokenOutOfVocabulary,
      message: expect.stringContaining('token 512 at position'),
    });
    expect(await attempt({ trainable: { tensors: ['attn_nothing'] } })).toMatchObject({ code: TrainingErrorCode.NoTrainableTensors });
    expect(await attempt({ train: [train[0]!.slice(0, 100)] })).toMatchObject({
      code: TrainingErrorCode.NotEnoughTokens,
      message: expect.stringContaining('100 tokens, need at least 257'),
    });
    expect(await attempt({ baseModelPath: join(directory, 'missing.gguf') })).toMatchObject({ code: TrainingErrorCode.InvalidTrainingJob });
    expect(await attempt({ outputPath: join(directory, 'no-such-dir', 'x.gguf') })).toMatchObject({ code: TrainingErrorCode.InvalidTrainingJob });
    expect(spawned).toBe(0);
  });

  it('runs in-process with koffi async calls, leaving the event loop free during epochs', async () => {
    const { job: resolved } = await preflightTrainingJob(job({ outputPath: join(directory, 'in-process.gguf'), epochs: 2, progressIntervalMs: 0 }));
    const jobFile = join(directory, 'in-process.json');
    await writeFile(jobFile, JSON.stringify(resolved));
    const result = (await runProbe('train-async', jobFile)) as { initialValidationLoss: number; validationLoss: number; ticks: number; progress: number };
    expect(result.validationLoss).toBeLessThan(result.initialValidationLoss);
    expect(result.progress).toBeGreaterThan(2);
    // A 5 ms interval kept firing while training ran on koffi's worker thread.
    expect(result.ticks).toBeGreaterThan(10);
    expect(existsSync(join(directory, 'in-process.gguf'))).toBe(true);
  });

  it('trains an F16 checkpoint by converting it to F32 first', async () => {
    const f16 = join(directory, 'tiny-f16.gguf');
    expect(await runProbe('quantize', basePath, f16, String(LlamaFtype.MostlyF16))).toEqual({ status: 0 });
    const outputPath = join(directory, 'trained-from-f16.gguf');
    const outcome = await new TrainerProcess().run(job({ baseModelPath: f16, outputPath, epochs: 2 }));
    expect(outcome.info.convertedToF32).toBe(true);
    expect(outcome.info.skippedTensors).toEqual([]);
    expect(outcome.validationLoss!).toBeLessThan(outcome.initialValidationLoss!);
    expect(existsSync(`${outputPath}.f32.partial`)).toBe(false);
  });

  describe('LoRA extraction', () => {
    let full: LoraExtractionResult;

    beforeAll(async () => {
      // Train the 2-D weights only, so that the weight change is exactly what a LoRA can carry.
      matricesOnly = await new TrainerProcess().run(
        job({ outputPath: join(directory, 'trained-matrices.gguf'), trainable: { tensors: MATRICES } }),
      );
      full = await extractLora({
        baseModelPath: basePath,
        trainedModelPath: matricesOnly.outputPath,
        outputPath: join(directory, 'lora-full.gguf'),
        rank: 64, // the smallest dimension of every tiny-model matrix
      });
    });

    it('at full rank reproduces the weight change and the trained model', async () => {
      expect(full.retainedEnergy).toBeCloseTo(1, 5);
      expect(full.relativeError).toBeLessThan(1e-5);
      expect(full.uncoveredEnergy).toBe(0);
      for (const tensor of full.tensors) {
        expect(tensor.rank).toBe(64);
        expect(tensor.retainedEnergy, tensor.name).toBeCloseTo(1, 5);
      }
      expect(full.tensors.map((tensor) => tensor.name)).toContain('output.weight');
      expect(full.skipped.filter((tensor) => tensor.reason !== 'unchanged')).toEqual([]);
      const adapter = await readGgufFileInfo(full.outputPath, { logWarnings: false });
      expect(adapter.metadata.general).toMatchObject({ architecture: 'llama', type: 'adapter' });
      const ffnDown = adapter.tensorInfo!.filter((tensor) => tensor.name.startsWith('blk.0.ffn_down.weight.'));
      expect(ffnDown.map((tensor) => [tensor.name, tensor.dimensions.map(Number)])).toEqual([
        ['blk.0.ffn_down.weight.lora_a', [128, 64]],
        ['blk.0.ffn_down.weight.lora_b', [64, 64]],
      ]);

      const model = await llama.loadModel({ modelPath: matricesOnly.outputPath });
      try {
        const heldOut = validation[0]!;
        const trainedLoss = await meanLoss(model, heldOut);
        const adaptedLoss = await meanLoss(base, heldOut, full.outputPath);
        expect(adaptedLoss).toBeCloseTo(trainedLoss, 3);
        expect(adaptedLoss).toBeLessThan((await meanLoss(base, heldOut)) - 1);
        expect(await greedy(base, 'An actor', full.outputPath)).toBe(await greedy(model, 'An actor'));
      } finally {
        await model.dispose();
      }
    });

    it('stops when its signal is aborted, writing nothing', async () => {
      const controller = new AbortController();
      const outputPath = join(directory, 'lora-aborted.gguf');
      const extraction = extractLora({
        baseModelPath: basePath,
        trainedModelPath: matricesOnly.outputPath,
        outputPath,
        rank: 4,
        signal: controller.signal,
        onTensor: () => controller.abort(),
      });
      await expect(extraction).rejects.toMatchObject({ code: ErrorCode.Aborted });
      expect(existsSync(outputPath)).toBe(false);
    });

    it('at a small rank keeps part of the change, reports how much, and still helps', async () => {
      const small = await extractLora({
        baseModelPath: basePath,
        trainedModelPath: matricesOnly.outputPath,
        outputPath: join(directory, 'lora-4.gguf'),
        rank: 4,
      });
      expect(small.retainedEnergy).toBeGreaterThan(0);
      expect(small.retainedEnergy).toBeLessThan(0.99);
      expect(small.relativeError).toBeGreaterThan(0.05);
      expect(small.bytes).toBeLessThan(full.bytes / 8);
      for (const tensor of small.tensors) {
        expect(tensor.rank).toBe(4);
        // A rank-r truncation keeps at least r/min(n_in, n_out) of the energy.
        expect(tensor.retainedEnergy).toBeGreaterThanOrEqual(4 / 64 - 1e-9);
      }
      const heldOut = validation[0]!;
      expect(await meanLoss(base, heldOut, small.outputPath)).toBeLessThan(await meanLoss(base, heldOut));
      console.info(
        `[training] LoRA rank 4 keeps ${(small.retainedEnergy * 100).toFixed(1)} % of the change (relative error ${small.relativeError.toFixed(3)}); ` +
          `rank 64: ${(full.retainedEnergy * 100).toFixed(4)} %`,
      );
    });

    it('from a full fine-tune reports the change a LoRA cannot carry (norms)', async () => {
      const result = await extractLora({
        baseModelPath: basePath,
        trainedModelPath: trained.outputPath,
        outputPath: join(directory, 'lora-all.gguf'),
        rank: 8,
      });
      expect(result.skipped.filter((tensor) => tensor.reason === 'not-a-matrix').map((tensor) => tensor.name)).toContain('output_norm.weight');
      expect(result.uncoveredEnergy).toBeGreaterThan(0);
      expect(result.uncoveredEnergy).toBeLessThan(0.5);
      await expect(
        extractLora({ baseModelPath: basePath, trainedModelPath: basePath, outputPath: join(directory, 'none.gguf'), rank: 4 }),
      ).rejects.toMatchObject({ code: TrainingErrorCode.LoraExtractionFailed, message: expect.stringContaining('no tensor changed') });
    });
  });
});
