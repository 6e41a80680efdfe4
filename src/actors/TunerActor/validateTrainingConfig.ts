import { InvalidArgumentError } from '../../messaging/errors.js';
import type { ResolvedTrainingConfig, TrainingConfig } from './types.js';
import {
  InvalidBatchSizeError,
  InvalidEpochsError,
  InvalidLearningRateError,
  InvalidLoraRankError,
  InvalidTrainingConfigError,
} from './tunerErrors.js';

const MAX_RANK = 1024;
const MAX_EPOCHS = 10_000;
const MAX_BATCH = 4096;
const MAX_LEARNING_RATE = 1;
const KNOWN = new Set(['loraRank', 'loraAlpha', 'learningRate', 'epochs', 'batchSize', 'useQLoRA', 'qLoRAConfig']);
const QUANT_TYPES = new Set(['nf4', 'fp4', 'int8']);
const COMPUTE_DTYPES = new Set(['float16', 'bfloat16', 'float32']);

/**
 * Checks a training config and fills in its defaults. Throws `INVALID_LORA_RANK`,
 * `INVALID_LEARNING_RATE`, `INVALID_EPOCHS`, `INVALID_BATCH_SIZE` or `INVALID_TRAINING_CONFIG` (alpha,
 * QLoRA settings, unknown names), each naming the value. Whether the backend can run a valid config
 * (QLoRA cannot run on llama.cpp) is decided when training starts.
 *
 * @example
 * ```ts
 * const config = validateTrainingConfig({ loraRank: 8, learningRate: 2e-5, epochs: 3 });
 * config.batchSize; // 1
 * ```
 */
export function validateTrainingConfig(config: TrainingConfig = {}): ResolvedTrainingConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidArgumentError(`a training config must be an object, got ${JSON.stringify(config)}`);
  }
  for (const name of Object.keys(config)) {
    if (!KNOWN.has(name)) throw new InvalidTrainingConfigError(name, `unknown setting ${JSON.stringify(name)} (known: ${[...KNOWN].join(', ')})`);
  }
  const loraRank = config.loraRank ?? 8;
  if (!Number.isInteger(loraRank) || loraRank < 1 || loraRank > MAX_RANK) throw new InvalidLoraRankError(config.loraRank, 1, MAX_RANK);
  const loraAlpha = config.loraAlpha ?? loraRank;
  if (typeof loraAlpha !== 'number' || !Number.isFinite(loraAlpha) || loraAlpha <= 0) {
    throw new InvalidTrainingConfigError('loraAlpha', `loraAlpha must be a number above 0, got ${String(config.loraAlpha)}`);
  }
  const learningRate = config.learningRate ?? 1e-3;
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0 || learningRate > MAX_LEARNING_RATE) {
    throw new InvalidLearningRateError(config.learningRate, MAX_LEARNING_RATE);
  }
  const epochs = config.epochs ?? 3;
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > MAX_EPOCHS) throw new InvalidEpochsError(config.epochs, MAX_EPOCHS);
  const batchSize = config.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw new InvalidBatchSizeError(config.batchSize, MAX_BATCH);
  const useQLoRA = config.useQLoRA ?? false;
  if (typeof useQLoRA !== 'boolean') throw new InvalidTrainingConfigError('useQLoRA', `useQLoRA must be a boolean, got ${String(useQLoRA)}`);
  let qLoRAConfig: Required<NonNullable<TrainingConfig['qLoRAConfig']>> | undefined;
  if (useQLoRA) {
    const q = config.qLoRAConfig;
    if (typeof q !== 'object' || q === null) {
      throw new InvalidTrainingConfigError('qLoRAConfig', 'useQLoRA is true but qLoRAConfig is missing');
    }
    if (!QUANT_TYPES.has(q.quantType)) {
      throw new InvalidTrainingConfigError('qLoRAConfig.quantType', `qLoRAConfig.quantType must be one of ${[...QUANT_TYPES].join(', ')}, got ${JSON.stringify(q.quantType)}`);
    }
    const computeDtype = q.computeDtype ?? 'float16';
    if (!COMPUTE_DTYPES.has(computeDtype)) {
      throw new InvalidTrainingConfigError(
        'qLoRAConfig.computeDtype',
        `qLoRAConfig.computeDtype must be one of ${[...COMPUTE_DTYPES].join(', ')}, got ${JSON.stringify(q.computeDtype)}`,
      );
    }
    const useDoubleQuant = q.useDoubleQuant ?? false;
    if (typeof useDoubleQuant !== 'boolean') {
      throw new InvalidTrainingConfigError('qLoRAConfig.useDoubleQuant', `qLoRAConfig.useDoubleQuant must be a boolean, got ${String(q.useDoubleQuant)}`);
    }
    qLoRAConfig = { quantType: q.quantType, computeDtype, useDoubleQuant };
  } else if (config.qLoRAConfig !== undefined) {
    throw new InvalidTrainingConfigError('qLoRAConfig', 'qLoRAConfig is set but useQLoRA is not true');
  }
  return { loraRank, loraAlpha, learningRate, epochs, batchSize, useQLoRA, qLoRAConfig };
}
