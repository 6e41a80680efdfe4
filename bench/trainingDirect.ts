/**
 * The "direct" side of `bench/training.ts`: a plain script that trains with llama.cpp's training
 * API called straight through the koffi bindings, in its own process, synchronously, with no
 * progress callbacks, no IPC and no child process: the floor the runtime's trainer is measured
 * against. It does the same work as a `TrainerProcess` job with `shuffle: false` (same windows,
 * learning-rate schedule, validation passes and save), so the losses must come out identical.
 *
 *   node --import tsx bench/trainingDirect.ts <job.json>
 *
 * Prints one JSON line: `{ trainingMs, tokens, tokensPerSecond, cpuMs, validationLoss, trainLoss }`,
 * where `trainingMs` runs from the end of `llama_opt_init` to the trained file being renamed into
 * place, the same span the runtime side measures from its `started` message to its result, and
 * `cpuMs` is the whole process's CPU time.
 */
import { readFileSync, renameSync } from 'node:fs';
import * as koffi from 'koffi';
import { learningRateForEpoch } from '../src/actors/TunerActor/training/learningRateSchedule.js';
import {
  GgmlOptOptimizer,
  GgmlOptOptimizerParams,
  GgmlTypeId,
  initLlamaBackends,
  LlamaFlashAttnType,
  LlamaLoadMode,
  loadLlamaNative,
} from '../src/actors/TunerActor/training/llamaNative.js';
import { buildTokenWindows, type TokenWindows } from '../src/actors/TunerActor/training/tokenWindows.js';
import type { ResolvedTrainingJob } from '../src/actors/TunerActor/training/TrainingJob.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: trainingDirect.ts <job.json>');
const job = JSON.parse(readFileSync(path, 'utf8')) as ResolvedTrainingJob;

const native = loadLlamaNative();
initLlamaBackends(native);
const { fn } = native;

const modelParams = fn.llama_model_default_params();
modelParams.n_gpu_layers = 0;
modelParams.load_mode = LlamaLoadMode.None;
modelParams.use_extra_bufts = false;
const model = fn.llama_model_load_from_file(job.baseModelPath, modelParams);
if (model === null) throw new Error('model load failed');

const contextParams = fn.llama_context_default_params();
Object.assign(contextParams, {
  n_ctx: job.contextSize,
  n_batch: job.batchSize,
  n_ubatch: job.microBatchSize,
  n_seq_max: 1,
  n_threads: job.threads,
  n_threads_batch: job.threads,
  type_k: GgmlTypeId.F32,
  type_v: GgmlTypeId.F32,
  flash_attn_type: LlamaFlashAttnType.Disabled,
});
const context = fn.llama_init_from_model(model, contextParams);
if (context === null) throw new Error('context creation failed');
const contextSize = fn.llama_n_ctx(context);

// One ordinary decode first, or the training graphs spin in ggml_barrier.
const token: unknown = koffi.alloc('int32_t', 1);
koffi.encode(token, 'int32_t', job.train[0]![0]!);
fn.llama_decode(context, { n_tokens: 1, token: token as bigint, embd: null, pos: null, n_seq_id: null, seq_id: null, logits: null });

function dataset(windows: TokenWindows): bigint {
  const handle = fn.ggml_opt_dataset_init(GgmlTypeId.I32, GgmlTypeId.I32, contextSize, contextSize, windows.starts.length, 1)!;
  const size = windows.starts.length * contextSize * 4;
  const data = new Int32Array(koffi.view(fn.ggml_get_data(fn.ggml_opt_dataset_data(handle)!), size));
  const labels = new Int32Array(koffi.view(fn.ggml_get_data(fn.ggml_opt_dataset_labels(handle)!), size));
  windows.starts.forEach((start, slot) => {
    data.set(windows.stream.subarray(start, start + contextSize), slot * contextSize);
    labels.set(windows.stream.subarray(start + 1, start + contextSize + 1), slot * contextSize);
  });
  return handle;
}
const trainWindows = buildTokenWindows(job.train, contextSize, job.stride);
const validationWindows = buildTokenWindows(job.validation, contextSize, job.stride);
const trainData = dataset(trainWindows);
const validationData = dataset(validationWindows);

const optimizerParams: unknown = koffi.alloc(GgmlOptOptimizerParams, 1);
const defaults = fn.ggml_opt_get_default_optimizer_params(null);
const setRate = (rate: number): void =>
  koffi.encode(optimizerParams, GgmlOptOptimizerParams, { ...defaults, adamw_alpha: rate, adamw_wd: job.weightDecay, sgd_alpha: rate, sgd_wd: job.weightDecay });
setRate(job.learningRate);
fn.llama_opt_init(context, model, {
  n_ctx_train: 0,
  param_filter: native.symbol('llama_opt_param_filter_all'),
  param_filter_ud: null,
  get_opt_pars: native.symbol('ggml_opt_get_constant_optimizer_params'),
  get_opt_pars_ud: optimizerParams as bigint,
  optimizer_type: GgmlOptOptimizer.AdamW,
});
const resultTrain = fn.ggml_opt_result_init()!;
const resultEval = fn.ggml_opt_result_init()!;
const loss = (result: bigint): number => {
  const value: [number] = [Number.NaN];
  fn.ggml_opt_result_loss(result, value, null);
  return value[0];
};

const started = performance.now();
fn.llama_opt_epoch(context, validationData, null, resultEval, 0, null, null);
let trainLoss = Number.NaN;
let validationLoss = Number.NaN;
for (let epoch = 0; epoch < job.epochs; epoch++) {
  setRate(learningRateForEpoch(epoch, job.epochs, job.learningRate, job.minLearningRate));
  fn.ggml_opt_result_reset(resultTrain);
  fn.llama_opt_epoch(context, trainData, resultTrain, null, trainWindows.starts.length, null, null);
  trainLoss = loss(resultTrain);
  fn.ggml_opt_result_reset(resultEval);
  fn.llama_opt_epoch(context, validationData, null, resultEval, 0, null, null);
  validationLoss = loss(resultEval);
}
fn.llama_model_save_to_file(model, `${job.outputPath}.partial`);
renameSync(`${job.outputPath}.partial`, job.outputPath);
const trainingMs = performance.now() - started;
const cpu = process.cpuUsage();

const tokens = job.epochs * trainWindows.starts.length * contextSize;
console.log(
  JSON.stringify({
    trainingMs,
    tokens,
    tokensPerSecond: (tokens * 1000) / trainingMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    trainLoss,
    validationLoss,
  }),
);
