import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GgmlType } from 'node-llama-cpp';
import { type GgufModelInfo, inspectGgufModel, TRAINABLE_GGML_TYPES } from './inspectGgufModel.js';
import { checkTokenVocabulary } from './tokenWindows.js';
import { describeTrainableTensors, isTrainableTensor, NEVER_TRAINED_TENSORS } from './trainableTensors.js';
import { type ResolvedTrainingJob, resolveTrainingJob, type TrainingJob } from './TrainingJob.js';
import {
  InvalidTrainingJobError,
  NoTrainableTensorsError,
  QuantizedBaseModelError,
} from './trainingErrors.js';

/** A job that passed {@link preflightTrainingJob}, with what was learned about its model. */
export interface PreflightedTrainingJob {
  readonly job: ResolvedTrainingJob;
  readonly model: GgufModelInfo;
  /** Names of the tensors that will train (F16 / BF16 ones after conversion to F32). */
  readonly trainableTensors: readonly string[];
}

/**
 * Everything that can be checked before a trainer process starts: {@link resolveTrainingJob}'s
 * checks, then against the base model's GGUF header: that it is not quantized, that every token is
 * in its vocabulary, that the `trainable` filter selects something, and that the output directory
 * exists. Anything llama.cpp would abort the process on is caught here, with a typed error.
 *
 * @example
 * ```ts
 * const { job, trainableTensors } = await preflightTrainingJob({ baseModelPath, outputPath, train, contextSize: 256, epochs: 3, learningRate: 1e-3 });
 * ```
 * @throws {InvalidTrainingJobError} and the other typed errors of `trainingErrors.ts`: `NOT_ENOUGH_TOKENS`,
 *   `QUANTIZED_BASE_MODEL`, `TOKEN_OUT_OF_VOCABULARY`, `NO_TRAINABLE_TENSORS`.
 */
export async function preflightTrainingJob(input: TrainingJob): Promise<PreflightedTrainingJob> {
  const job = resolveTrainingJob(input);
  let model: GgufModelInfo;
  try {
    model = await inspectGgufModel(job.baseModelPath);
  } catch (error) {
    throw new InvalidTrainingJobError('baseModelPath', `cannot read base model ${job.baseModelPath}: ${(error as Error).message}`);
  }
  if (model.fileType === 'adapter') {
    throw new InvalidTrainingJobError('baseModelPath', `${job.baseModelPath} is an adapter, not a model`);
  }

  const untrainable = model.tensors.filter((tensor) => !TRAINABLE_GGML_TYPES.has(tensor.type));
  if (untrainable.length > 0) {
    const types = [...new Set(untrainable.map((tensor) => tensor.typeName))];
    throw new QuantizedBaseModelError(job.baseModelPath, types, untrainable[0]!.name);
  }

  checkTokenVocabulary(job.train, 'train', model.vocabularySize);
  checkTokenVocabulary(job.validation, 'validation', model.vocabularySize);

  const selected = model.tensors.filter(
    (tensor) => !NEVER_TRAINED_TENSORS.has(tensor.name) && isTrainableTensor(tensor.name, job.trainable),
  );
  if (selected.length === 0) throw new NoTrainableTensorsError(describeTrainableTensors(job.trainable), model.tensors.length);

  const outputDirectory = dirname(job.outputPath);
  const directory = await stat(outputDirectory).catch(() => undefined);
  if (directory === undefined || !directory.isDirectory()) {
    throw new InvalidTrainingJobError('outputPath', `the directory of outputPath (${outputDirectory}) does not exist`);
  }

  return {
    job: { ...job, convertToF32: selected.some((tensor) => tensor.type !== GgmlType.F32) },
    model,
    trainableTensors: selected.map((tensor) => tensor.name),
  };
}
