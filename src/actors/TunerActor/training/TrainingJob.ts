import { availableParallelism } from 'node:os';
import { countTokens, tokenWindowStarts } from './tokenWindows.js';
import type { TrainableTensors } from './trainableTensors.js';
import { InvalidTrainingJobError, NotEnoughTokensError } from './trainingErrors.js';

/** A LoRA adapter to extract from the weight change once training is done, in the trainer process. */
export interface LoraJob {
  /** Where the adapter GGUF goes (written to a `.partial` file first, renamed when complete). */
  outputPath: string;
  /** Rank of the factorization. */
  rank: number;
  /** `adapter.lora.alpha`. Defaults to the rank. */
  alpha?: number;
  /** Which changed tensors go into the adapter. Defaults to `all`. */
  tensors?: TrainableTensors;
}

/** llama.cpp rounds every context up to a multiple of this many tokens. */
export const CONTEXT_GRANULARITY = 256;

/** Suffix of the file the trained model is written to before it is renamed to `outputPath`. */
export const PARTIAL_SUFFIX = '.partial';
/** Suffix of the F32 copy of an F16 / BF16 base model, next to `outputPath`; deleted once loaded. */
export const F32_COPY_SUFFIX = '.f32.partial';

const MAX_CONTEXT = 1 << 20;
const MAX_EPOCHS = 100_000;
const MAX_THREADS = 1024;
const INT32_MAX = 0x7fff_ffff;

/**
 * One training run of the llama.cpp backend: full fine-tuning of the selected F32 weights of a GGUF
 * model on token sequences, with AdamW (or SGD), saved as a new GGUF.
 *
 * Token sequences become training windows as `tokenWindows.ts` describes: joined in order, cut into
 * `contextSize`-token windows every `stride` tokens, every next token a label.
 */
export interface TrainingJob {
  /** The GGUF to train: F32, F16 or BF16 weights (F16 / BF16 are converted to F32 for training). */
  baseModelPath: string;
  /**
   * Where the trained GGUF goes. It is written to `<outputPath>.partial` and renamed when complete,
   * so a stopped run never leaves a file at this path.
   */
  outputPath: string;
  /** Training token sequences (each with its own BOS / EOS, if any). */
  train: number[][];
  /** Held-out sequences for the validation loss. Defaults to none (validation loss `null`). */
  validation?: number[][];
  /**
   * Tokens per training window, a multiple of 256 (llama.cpp pads contexts to 256). It need not be
   * the model's context length: the saved model keeps the base model's (see {@link keepContextLength}).
   */
  contextSize: number;
  /** Passes over the training windows. */
  epochs: number;
  /** Learning rate of the first epoch. */
  learningRate: number;
  /** Learning rate of the last epoch; it decays geometrically in between. Defaults to `learningRate / 10`. */
  minLearningRate?: number;
  /** Decoupled weight decay of AdamW (or SGD's), per step. Defaults to `0`. */
  weightDecay?: number;
  /** `adamw` or `sgd`. Defaults to `adamw`. */
  optimizer?: 'adamw' | 'sgd';
  /** Tokens per optimizer step: a divisor of `contextSize`. Defaults to `contextSize`. */
  batchSize?: number;
  /**
   * Tokens evaluated at once, a divisor of `batchSize`; gradients of `batchSize / microBatchSize`
   * micro-batches are accumulated per step. Memory grows with it. Defaults to `min(batchSize, 512)`.
   */
  microBatchSize?: number;
  /** Tokens between the starts of consecutive windows. Defaults to `contextSize / 2` (llama.cpp's finetune does the same). */
  stride?: number;
  /** Which weights train. Defaults to `all`. */
  trainable?: TrainableTensors;
  /** CPU threads. Defaults to `os.availableParallelism()`. */
  threads?: number;
  /** Seeds the order of the training windows in each epoch. Defaults to `0`. */
  seed?: number;
  /** Shuffle the training windows each epoch. Defaults to `true`. */
  shuffle?: boolean;
  /**
   * Write the base model's context length into the trained GGUF. `llama_opt_init` overwrites it with
   * the training context, which would otherwise shrink (or grow) what the trained model accepts.
   * Defaults to `true`.
   */
  keepContextLength?: boolean;
  /** Least time between two in-epoch progress messages, in ms (one always ends each epoch). Defaults to `250`. */
  progressIntervalMs?: number;
  /**
   * Also turn the weight change into a LoRA adapter, in the trainer process (a truncated SVD per
   * matrix is seconds of CPU on a real model: it must not block the runtime's event loop). Defaults to none.
   */
  lora?: LoraJob;
}

/** A {@link TrainingJob} checked and with every default filled in; what the trainer process receives. */
export interface ResolvedTrainingJob {
  baseModelPath: string;
  outputPath: string;
  train: number[][];
  validation: number[][];
  contextSize: number;
  epochs: number;
  learningRate: number;
  minLearningRate: number;
  weightDecay: number;
  optimizer: 'adamw' | 'sgd';
  batchSize: number;
  microBatchSize: number;
  stride: number;
  trainable: TrainableTensors;
  threads: number;
  seed: number;
  shuffle: boolean;
  keepContextLength: boolean;
  progressIntervalMs: number;
  lora: LoraJob | undefined;
  /** Set by the preflight when selected weights are F16 / BF16: the trainer converts the model to F32 first. */
  convertToF32: boolean;
}

/**
 * Checks everything about a job that needs no file: numbers, their divisibility (llama.cpp aborts
 * the process on `n_ctx % n_batch != 0` or `n_batch % n_ubatch != 0`), token ids being integers and
 * there being enough tokens for one window. Fills in defaults.
 *
 * @throws {InvalidTrainingJobError} naming the field and the numbers.
 * @throws {NotEnoughTokensError} when a split cannot fill one window.
 */
export function resolveTrainingJob(job: TrainingJob): ResolvedTrainingJob {
  if (typeof job !== 'object' || job === null) throw new InvalidTrainingJobError('job', `a job must be an object, got ${String(job)}`);
  const baseModelPath = requireString(job.baseModelPath, 'baseModelPath');
  const outputPath = requireString(job.outputPath, 'outputPath');
  if (outputPath === baseModelPath) {
    throw new InvalidTrainingJobError('outputPath', `outputPath must differ from baseModelPath (${baseModelPath})`);
  }

  const sizes = resolveWindowSizes(job);
  const optimizerSettings = resolveOptimizerSettings(job);
  const threads = requireInteger(job.threads ?? availableParallelism(), 'threads', 1, MAX_THREADS);
  const seed = requireInteger(job.seed ?? 0, 'seed', 0, INT32_MAX);
  const progressIntervalMs = requireNumber(job.progressIntervalMs ?? 250, 'progressIntervalMs');
  if (progressIntervalMs < 0) throw new InvalidTrainingJobError('progressIntervalMs', `progress interval ${progressIntervalMs} ms is negative`);
  const trainable = job.trainable ?? 'all';
  checkTrainable(trainable);
  const { train, validation } = resolveSequences(job, sizes.contextSize, sizes.stride);

  return {
    baseModelPath,
    outputPath,
    train,
    validation,
    contextSize: sizes.contextSize,
    epochs: optimizerSettings.epochs,
    learningRate: optimizerSettings.learningRate,
    minLearningRate: optimizerSettings.minLearningRate,
    weightDecay: optimizerSettings.weightDecay,
    optimizer: optimizerSettings.optimizer,
    batchSize: sizes.batchSize,
    microBatchSize: sizes.microBatchSize,
    stride: sizes.stride,
    trainable,
    threads,
    seed,
    shuffle: requireBoolean(job.shuffle ?? true, 'shuffle'),
    keepContextLength: requireBoolean(job.keepContextLength ?? true, 'keepContextLength'),
    progressIntervalMs,
    lora: resolveLoraJob(job.lora, outputPath, baseModelPath),
    convertToF32: false,
  };
}

/**
 * The window and batch sizes, each dividing the one before: llama.cpp pads contexts to
 * {@link CONTEXT_GRANULARITY} and aborts on `n_ctx % n_batch != 0` or `n_batch % n_ubatch != 0`.
 */
function resolveWindowSizes(job: TrainingJob): Pick<ResolvedTrainingJob, 'contextSize' | 'batchSize' | 'microBatchSize' | 'stride'> {
  const contextSize = requireInteger(job.contextSize, 'contextSize', 1, MAX_CONTEXT);
  if (contextSize % CONTEXT_GRANULARITY !== 0) {
    throw new InvalidTrainingJobError(
      'contextSize',
      `context ${contextSize} is not a multiple of ${CONTEXT_GRANULARITY} (llama.cpp pads contexts to multiples of ${CONTEXT_GRANULARITY}; use ${Math.ceil(contextSize / CONTEXT_GRANULARITY) * CONTEXT_GRANULARITY})`,
    );
  }
  const batchSize = requireInteger(job.batchSize ?? contextSize, 'batchSize', 1, contextSize);
  if (contextSize % batchSize !== 0) {
    throw new InvalidTrainingJobError('batchSize', `context ${contextSize} is not a multiple of batch ${batchSize}`);
  }
  const microBatchSize = requireInteger(job.microBatchSize ?? Math.min(batchSize, 512), 'microBatchSize', 1, batchSize);
  if (batchSize % microBatchSize !== 0) {
    throw new InvalidTrainingJobError('microBatchSize', `batch ${batchSize} is not a multiple of micro-batch ${microBatchSize}`);
  }
  const stride = requireInteger(job.stride ?? contextSize / 2, 'stride', 1, MAX_CONTEXT);
  return { contextSize, batchSize, microBatchSize, stride };
}

/** Epochs, the learning-rate schedule, weight decay and the optimizer. */
function resolveOptimizerSettings(
  job: TrainingJob,
): Pick<ResolvedTrainingJob, 'epochs' | 'learningRate' | 'minLearningRate' | 'weightDecay' | 'optimizer'> {
  const epochs = requireInteger(job.epochs, 'epochs', 1, MAX_EPOCHS);
  const learningRate = requireNumber(job.learningRate, 'learningRate');
  if (learningRate <= 0 || learningRate > 1) {
    throw new InvalidTrainingJobError('learningRate', `learning rate ${learningRate} is not above 0 and at most 1`);
  }
  const minLearningRate = requireNumber(job.minLearningRate ?? learningRate / 10, 'minLearningRate');
  if (minLearningRate <= 0 || minLearningRate > learningRate) {
    throw new InvalidTrainingJobError(
      'minLearningRate',
      `minimum learning rate ${minLearningRate} is not above 0 and at most the learning rate ${learningRate}`,
    );
  }
  const weightDecay = requireNumber(job.weightDecay ?? 0, 'weightDecay');
  if (weightDecay < 0 || weightDecay >= 1) throw new InvalidTrainingJobError('weightDecay', `weight decay ${weightDecay} is not in [0, 1)`);
  const optimizer = job.optimizer ?? 'adamw';
  if (optimizer !== 'adamw' && optimizer !== 'sgd') {
    throw new InvalidTrainingJobError('optimizer', `optimizer ${JSON.stringify(optimizer)} is not 'adamw' or 'sgd'`);
  }
  return { epochs, learningRate, minLearningRate, weightDecay, optimizer };
}

/** The token sequences, each split with enough tokens for one window (validation may be empty). */
function resolveSequences(job: TrainingJob, contextSize: number, stride: number): Pick<ResolvedTrainingJob, 'train' | 'validation'> {
  const train = requireSequences(job.train, 'train');
  const validation = requireSequences(job.validation ?? [], 'validation');
  const trainTokens = countTokens(train);
  if (tokenWindowStarts(trainTokens, contextSize, stride).length === 0) {
    throw new NotEnoughTokensError('train', trainTokens, contextSize);
  }
  const validationTokens = countTokens(validation);
  if (validationTokens > 0 && tokenWindowStarts(validationTokens, contextSize, stride).length === 0) {
    throw new NotEnoughTokensError('validation', validationTokens, contextSize);
  }
  return { train, validation };
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidTrainingJobError(field, `${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function requireNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidTrainingJobError(field, `${field} must be a finite number, got ${String(value)}`);
  return value;
}

function requireInteger(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidTrainingJobError(field, `${field} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function resolveLoraJob(lora: LoraJob | undefined, outputPath: string, baseModelPath: string): LoraJob | undefined {
  if (lora === undefined) return undefined;
  if (typeof lora !== 'object' || lora === null) throw new InvalidTrainingJobError('lora', `lora must be { outputPath, rank, alpha?, tensors? }, got ${String(lora)}`);
  const loraPath = requireString(lora.outputPath, 'lora.outputPath');
  if (loraPath === outputPath || loraPath === baseModelPath) {
    throw new InvalidTrainingJobError('lora.outputPath', `lora.outputPath must differ from outputPath and baseModelPath (${loraPath})`);
  }
  const rank = requireInteger(lora.rank, 'lora.rank', 1, 65_536);
  const alpha = lora.alpha === undefined ? undefined : requireNumber(lora.alpha, 'lora.alpha');
  if (alpha !== undefined && alpha <= 0) throw new InvalidTrainingJobError('lora.alpha', `lora alpha ${alpha} is not above 0`);
  if (lora.tensors !== undefined) checkTrainable(lora.tensors);
  return { outputPath: loraPath, rank, ...(alpha === undefined ? {} : { alpha }), ...(lora.tensors === undefined ? {} : { tensors: lora.tensors }) };
}

function requireBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidTrainingJobError(field, `${field} must be a boolean, got ${String(value)}`);
  return value;
}

function requireSequences(value: unknown, field: string): number[][] {
  if (!Array.isArray(value)) throw new InvalidTrainingJobError(field, `${field} must be an array of token sequences`);
  value.forEach((sequence: unknown, index) => {
    if (!Array.isArray(sequence)) throw new InvalidTrainingJobError(field, `${field}[${index}] is not an array of token ids`);
    for (let position = 0; position < sequence.length; position++) {
      const token: unknown = sequence[position];
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token > INT32_MAX) {
        throw new InvalidTrainingJobError(field, `${field}[${index}][${position}] is ${String(token)}, not a token id`);
      }
    }
  });
  return value as number[][];
}

function checkTrainable(trainable: unknown): void {
  if (trainable === 'all') return;
  if (typeof trainable !== 'object' || trainable === null || Array.isArray(trainable)) {
    throw new InvalidTrainingJobError('trainable', `trainable must be 'all' or { layers?, tensors? }, got ${JSON.stringify(trainable)}`);
  }
  const { layers, tensors } = trainable as { layers?: unknown; tensors?: unknown };
  if (layers !== undefined && (!Array.isArray(layers) || layers.some((layer) => !Number.isInteger(layer) || (layer as number) < 0))) {
    throw new InvalidTrainingJobError('trainable.layers', `trainable.layers must be an array of block indices, got ${JSON.stringify(layers)}`);
  }
  if (tensors !== undefined && (!Array.isArray(tensors) || tensors.some((pattern) => typeof pattern !== 'string' || pattern === ''))) {
    throw new InvalidTrainingJobError('trainable.tensors', `trainable.tensors must be an array of name patterns, got ${JSON.stringify(tensors)}`);
  }
}
