import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { getLlama, type Llama, type LlamaModel, resolveChatWrapper } from 'node-llama-cpp';
import type { Logger } from 'pino';
import { checkModelFile } from '../../gguf/checkModelFile.js';
import type { Clock } from '../../messaging/Clock.js';
import { ActorError } from '../../messaging/errors.js';
import { AdapterContexts } from './AdapterContexts.js';
import type { ContextPool } from './ContextPool.js';
import { createContextPool } from './createContextPool.js';
import type { ContextSettings, LoadedModel } from './LoadedModel.js';
import { chooseEngine, defaultSlots, defaultThreads } from './modelDefaults.js';
import { InvalidModelFileError, ModelLoadError } from './modelErrors.js';
import { NativeEngine } from './native/NativeEngine.js';
import type { AppliedAdapter, ModelActorOptions, ModelEngine, ModelInfo } from './types.js';

/** @internal What {@link loadModel} asks of the actor that loads. */
export interface ModelLoadHooks {
  clock: Clock;
  /** Load progress from 0 to 1. */
  progress: (progress: number) => void;
  /** The model's adapter set: its context is created while loading. */
  defaultAdapters: () => readonly AppliedAdapter[];
  /** Whether `key` is the model's adapter set now (its context is never freed when idle). */
  isDefault: (key: string) => boolean;
  /** Checks an adapter against the model (cached by the actor across loads). */
  validate: (path: string, model: LlamaModel) => Promise<unknown>;
  logger: () => Logger | undefined;
}

/**
 * @internal Loads a GGUF model: checks the file, gets a `Llama` (the options' or a new one), loads
 * node-llama-cpp's model (vocabulary only where the native engine will hold the weights) and
 * creates the context of the model's adapter set. Whatever was loaded is freed again on failure.
 * Rejects with `MODEL_FILE_NOT_FOUND`, `INVALID_MODEL_FILE` or `MODEL_LOAD_FAILED`.
 */
export async function loadModel(options: ModelActorOptions, hooks: ModelLoadHooks): Promise<LoadedModel> {
  const path = options.modelPath;
  await checkModelFile(path);
  const { llama, ownsLlama } = await obtainLlama(options.llama);
  const gpu = llama.gpu !== false;
  let engine: ModelEngine;
  let model: LlamaModel;
  // With the native engine holding the weights, node-llama-cpp needs only the vocabulary
  // (tokenizer, chat template) until something it alone serves asks for the weights.
  const loadWeights = (vocabOnly: boolean) =>
    llama
      .loadModel({ modelPath: path, gpuLayers: options.gpuLayers ?? 'auto', vocabOnly, onLoadProgress: hooks.progress })
      .catch((error: unknown) => {
        throw new InvalidModelFileError(path, `llama.cpp refused it: ${(error as Error).message}`);
      });
  try {
    engine = chooseEngine(options.engine ?? 'auto', gpu);
    model = await loadWeights(engine === 'native');
  } catch (error) {
    if (ownsLlama) await llama.dispose();
    throw error;
  }
  const weights = lazyWeights(() => loadWeights(false), engine === 'native' ? undefined : model);
  try {
    return await createLoadedModel({ options, hooks, llama, ownsLlama, model, weights, engine, gpu });
  } catch (error) {
    await model.dispose();
    const started = weights.started();
    if (started) await (await started.catch(() => undefined))?.dispose();
    if (ownsLlama) await llama.dispose();
    if (error instanceof ActorError) throw error;
    throw new ModelLoadError(`could not create a context for ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** node-llama-cpp's model with weights, loaded on first use, again after a failed load. */
interface LazyWeights {
  get: () => Promise<LlamaModel>;
  /** The load if it was started, without starting it. */
  started: () => Promise<LlamaModel> | undefined;
}

function lazyWeights(load: () => Promise<LlamaModel>, loaded: LlamaModel | undefined): LazyWeights {
  let weights: Promise<LlamaModel> | undefined = loaded === undefined ? undefined : Promise.resolve(loaded);
  return {
    get: () => {
      weights ??= load().catch((error: unknown) => {
        weights = undefined;
        throw error;
      });
      return weights;
    },
    started: () => weights,
  };
}

async function obtainLlama(given: Llama | undefined): Promise<{ llama: Llama; ownsLlama: boolean }> {
  if (given) return { llama: given, ownsLlama: false };
  try {
    return { llama: await getLlama({ gpu: 'auto', build: 'never' }), ownsLlama: true };
  } catch (error) {
    throw new ModelLoadError(
      `no usable llama.cpp binary for this platform (prebuilt binaries are used, nothing is built at run time; ` +
        `build one with \`npx node-llama-cpp source download --gpu false\`): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

interface LoadParts {
  options: ModelActorOptions;
  hooks: ModelLoadHooks;
  llama: Llama;
  ownsLlama: boolean;
  model: LlamaModel;
  weights: LazyWeights;
  engine: ModelEngine;
  gpu: boolean;
}

/** Creates the default adapter set's context on the loaded node-llama-cpp model, then describes the model. */
async function createLoadedModel(parts: LoadParts): Promise<LoadedModel> {
  const { options, hooks, llama, model, weights } = parts;
  const path = options.modelPath;
  const trainContextSize = model.trainContextSize || (model.fileInsights.trainContextSize ?? 0);
  const settings = contextSettings(options, parts.engine, parts.gpu, trainContextSize);
  const adapters = hooks.defaultAdapters();
  for (const adapter of adapters) await hooks.validate(adapter.path, model);
  const poolSource = { modelPath: path, weights: weights.get, clock: hooks.clock };
  const pool = createContextPool({ ...poolSource, settings }, adapters);
  // Leased while it is created, as every pool is; nothing can free it yet, but the count stays honest.
  await pool.lease();
  pool.release();
  if (pool.context instanceof NativeEngine) {
    // The native engine loaded the weights itself, after node-llama-cpp's vocabulary-only load.
    hooks.progress(1);
  }
  const info = await modelInfo(parts, pool, settings.slots, trainContextSize);
  const chatWrapper = resolveChatWrapper(model);
  info.chatTemplate = chatWrapper.wrapperName;
  const context = pool.context;
  const estimate = await model.fileInsights
    .estimateContextResourceRequirementsV2({
      contextSize: context.contextSize,
      modelGpuLayers: model.gpuLayers,
      batchSize: context.batchSize,
      sequences: settings.slots,
      flashAttention: context.flashAttention,
    })
    .catch(() => ({ cpuRam: 0, gpuVram: 0 }));
  // Later contexts get the size llama.cpp gave the first one.
  const loadedSettings: ContextSettings = { ...settings, contextSize: context.contextSize };
  const contexts = new AdapterContexts(pool, {
    maxContexts: options.maxContexts ?? 3,
    idleMs: options.adapterContextIdleMs ?? 30_000,
    isDefault: hooks.isDefault,
    validate: async (set) => {
      for (const adapter of set) await hooks.validate(adapter.path, model);
    },
    createPool: (set) => createContextPool({ ...poolSource, settings: loadedSettings }, set),
    logger: hooks.logger,
  });
  return {
    llama,
    ownsLlama: parts.ownsLlama,
    model,
    weights: weights.get,
    startedWeights: weights.started,
    contexts,
    settings: loadedSettings,
    contextBytes: estimate.cpuRam + estimate.gpuVram,
    chatWrapper,
    info,
    embeddingContext: undefined,
  };
}

/** The options' context settings, with the defaults for this machine filled in. */
function contextSettings(options: ModelActorOptions, engine: ModelEngine, gpu: boolean, trainContextSize: number): ContextSettings {
  const slots = options.slots ?? defaultSlots(gpu);
  const threads = options.threads ?? (gpu ? 0 : defaultThreads(availableParallelism(), engine));
  // A vocabulary-only model has no hyperparameters loaded: the training context is read from the file's header.
  const contextSize = options.contextSize ?? Math.min(trainContextSize, 4096);
  const batchSize = options.batchSize ?? Math.min(512, contextSize);
  const flashAttention = options.flashAttention ?? (gpu ? 'auto' : false);
  return { engine, contextSize, slots, threads, batchSize, flashAttention, maxQueue: options.maxQueue ?? 64 };
}

/** What the model is, from its file and its first context (`chatTemplate` is filled in by the caller). */
async function modelInfo(parts: LoadParts, pool: ContextPool, slots: number, trainContextSize: number): Promise<ModelInfo> {
  const { llama, model } = parts;
  const path = parts.options.modelPath;
  const context = pool.context;
  return {
    path,
    architecture: model.fileInfo.metadata.general?.architecture,
    name: model.fileInfo.metadata.general?.name,
    contextSize: context.contextSize,
    trainContextSize,
    vocabularySize: model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0,
    embeddingSize: model.embeddingVectorSize || (model.fileInsights.embeddingVectorSize ?? 0),
    sizeBytes: (await stat(path)).size,
    parameters: model.fileInsights.totalParameters,
    gpu: llama.gpu,
    gpuLayers: model.gpuLayers,
    threads: context.currentThreads,
    slots,
    batchSize: context.batchSize,
    localBuild: llama.buildType === 'localBuild',
    engine: context instanceof NativeEngine ? 'native' : 'node-llama-cpp',
    chatTemplate: '',
  };
}
