import { rm } from 'node:fs/promises';
import { convertModelToF32 } from './convertModelToF32.js';
import { GgmlTypeId, LlamaFlashAttnType, LlamaLoadMode, type LlamaNative } from './llamaNative.js';
import { checkTokenVocabulary } from './tokenWindows.js';
import { F32_COPY_SUFFIX, type ResolvedTrainingJob } from './TrainingJob.js';
import { InvalidTrainingJobError, ModelLoadFailedError } from './trainingErrors.js';

/** A model loaded for training and its context, with the sizes llama.cpp settled on. */
export interface TrainingContext {
  /** `llama_model *`. */
  model: bigint;
  /** `llama_context *`. */
  context: bigint;
  vocabularySize: number;
  /** The context length the base model was trained with (`llama_model_n_ctx_train`). */
  baseContextLength: number;
  contextSize: number;
  batchSize: number;
  microBatchSize: number;
}

/**
 * Loads the job's model for training and creates its context, as llama.cpp's
 * `examples/training/finetune.cpp` does: without mmap (training writes to the weights), without
 * repacked buffers, with F32 KV cache (OUT_PROD has no F16 backward) and flash attention off. An
 * F16 / BF16 model is converted to an F32 copy first, deleted once loaded.
 *
 * Frees are pushed onto `disposers`, to be called in reverse order.
 *
 * @throws {ModelLoadFailedError} when llama.cpp cannot load the model or create the context.
 * @throws {TokenOutOfVocabularyError} when a token id is not in the model's vocabulary.
 * @throws {InvalidTrainingJobError} when the sizes llama.cpp settled on would fail its asserts.
 */
export async function openTrainingContext(
  native: LlamaNative,
  job: ResolvedTrainingJob,
  disposers: Array<() => void>,
): Promise<TrainingContext> {
  const { fn } = native;
  let modelPath = job.baseModelPath;
  if (job.convertToF32) {
    modelPath = job.outputPath + F32_COPY_SUFFIX;
    await convertModelToF32(native, job.baseModelPath, modelPath, job.threads);
  }
  const modelParams = fn.llama_model_default_params();
  modelParams.n_gpu_layers = 0;
  modelParams.load_mode = LlamaLoadMode.None; // training writes to the weights: no read-only mmap
  modelParams.use_extra_bufts = false; // repacked buffers cannot be trained
  const model = fn.llama_model_load_from_file(modelPath, modelParams);
  if (job.convertToF32) await rm(modelPath, { force: true });
  if (model === null) throw new ModelLoadFailedError(job.baseModelPath, 'llama_model_load_from_file returned NULL (see stderr)');
  disposers.push(() => fn.llama_model_free(model));

  const vocab = fn.llama_model_get_vocab(model);
  const vocabularySize = vocab === null ? 0 : fn.llama_vocab_n_tokens(vocab);
  checkTokenVocabulary(job.train, 'train', vocabularySize);
  checkTokenVocabulary(job.validation, 'validation', vocabularySize);
  const baseContextLength = fn.llama_model_n_ctx_train(model);

  const contextParams = fn.llama_context_default_params();
  contextParams.n_ctx = job.contextSize;
  contextParams.n_batch = job.batchSize;
  contextParams.n_ubatch = job.microBatchSize;
  contextParams.n_seq_max = 1;
  contextParams.n_threads = job.threads;
  contextParams.n_threads_batch = job.threads;
  contextParams.type_k = GgmlTypeId.F32;
  contextParams.type_v = GgmlTypeId.F32;
  contextParams.flash_attn_type = LlamaFlashAttnType.Disabled;
  const context = fn.llama_init_from_model(model, contextParams);
  if (context === null) throw new ModelLoadFailedError(job.baseModelPath, 'llama_init_from_model returned NULL (see stderr)');
  disposers.push(() => fn.llama_free(context));

  return { model, context, vocabularySize, baseContextLength, ...settledSizes(native, context) };
}

/** Re-checks what llama.cpp made of the sizes: these are the GGML_ASSERTs of `llama_opt_init`. */
function settledSizes(native: LlamaNative, context: bigint): Pick<TrainingContext, 'contextSize' | 'batchSize' | 'microBatchSize'> {
  const { fn } = native;
  const contextSize = fn.llama_n_ctx(context);
  const batchSize = Math.min(fn.llama_n_batch(context), contextSize);
  const microBatchSize = Math.min(fn.llama_n_ubatch(context), batchSize);
  if (contextSize % batchSize !== 0) {
    throw new InvalidTrainingJobError('batchSize', `context ${contextSize} is not a multiple of batch ${batchSize}`);
  }
  if (batchSize % microBatchSize !== 0) {
    throw new InvalidTrainingJobError('microBatchSize', `batch ${batchSize} is not a multiple of micro-batch ${microBatchSize}`);
  }
  return { contextSize, batchSize, microBatchSize };
}
