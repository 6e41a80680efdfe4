import { open } from 'node:fs/promises';
import { AbortedError } from '../../../messaging/errors.js';
import { factorizeLoraDelta } from './factorizeLoraDelta.js';
import { type GgufModelInfo, type GgufTensor, inspectGgufModel, TRAINABLE_GGML_TYPES } from './inspectGgufModel.js';
import { LoraAdapterGguf } from './LoraAdapterGguf.js';
import { readTensorChange, type TensorChange } from './readTensorChange.js';
import { isTrainableTensor, type TrainableTensors } from './trainableTensors.js';
import { LoraExtractionError } from './trainingErrors.js';

/** Options of {@link extractLora}. */
export interface ExtractLoraOptions {
  /** The model training started from. */
  baseModelPath: string;
  /** The trained model (same architecture, tensor names and shapes). */
  trainedModelPath: string;
  /** Where the adapter GGUF goes (written atomically). */
  outputPath: string;
  /** Rank of the factorization; tensors with a smaller dimension get that dimension instead. */
  rank: number;
  /** `adapter.lora.alpha`. llama.cpp scales the update by `alpha / rank`; the factors are scaled so that at adapter scale 1 the update is the weight change, whatever alpha is. Defaults to `rank`. */
  alpha?: number;
  /** Which changed tensors go into the adapter. Defaults to `all`. */
  tensors?: TrainableTensors;
  /** Power iterations of the randomized SVD. Defaults to `2`. */
  powerIterations?: number;
  /** Oversampling of the randomized SVD. Defaults to `8`. */
  oversampling?: number;
  /** Seeds the randomized SVD. Defaults to `0`. */
  seed?: number;
  /** Called after each tensor is factorized. */
  onTensor?: (report: LoraTensorReport) => void;
  /** Stops the extraction between tensors (nothing is written); it then rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/** How well the adapter carries one tensor's change. */
export interface LoraTensorReport {
  name: string;
  /** ggml shape of the base weight, `[n_in, n_out]`. */
  shape: [number, number];
  /** Rank used for this tensor: `min(rank, n_in, n_out)`. */
  rank: number;
  /** `‖ΔW‖_F`. */
  deltaNorm: number;
  /** `‖ΔW‖_F / ‖W_base‖_F`: how big the change is. */
  relativeChange: number;
  /** `‖B·A‖_F² / ‖ΔW‖_F²` with the factors as written (F32): the share of the change's energy the rank keeps. */
  retainedEnergy: number;
  /** `‖ΔW − B·A‖_F / ‖ΔW‖_F`. */
  relativeError: number;
}

/** A tensor that changed (or was considered) but is not in the adapter. */
export interface LoraSkippedTensor {
  name: string;
  /** `unchanged`: identical data; `not-a-matrix`: a LoRA only carries 2-D weights (norms change too, and that part is lost); `filtered`: excluded by `tensors`. */
  reason: 'unchanged' | 'not-a-matrix' | 'filtered';
  /** `‖ΔW‖_F` (0 when unchanged). */
  deltaNorm: number;
}

/** What {@link extractLora} wrote and how much of the training it keeps. */
export interface LoraExtractionResult {
  outputPath: string;
  bytes: number;
  architecture: string;
  rank: number;
  alpha: number;
  tensors: LoraTensorReport[];
  skipped: LoraSkippedTensor[];
  /** Over the adapter's tensors: `Σ‖B·A‖² / Σ‖ΔW‖²`. */
  retainedEnergy: number;
  /** Over the adapter's tensors: `sqrt(Σ‖ΔW − B·A‖² / Σ‖ΔW‖²)`. */
  relativeError: number;
  /** Share of the whole model's change energy in tensors the adapter cannot carry (`not-a-matrix`, `filtered`). */
  uncoveredEnergy: number;
}

/**
 * Turns a full fine-tune into a LoRA adapter: for every 2-D weight whose data changed,
 * `ΔW = W_trained − W_base` is factorized to rank `r` by a truncated SVD, `ΔW ≈ U·S·Vᵀ`, and
 * written as `lora_b = U·√S` and `lora_a = √S·Vᵀ` (scaled for alpha), which llama.cpp applies as
 * `W x + scale · alpha / r · B (A x)`. For a base weight of ggml shape `[n_in, n_out]`, `lora_a` has
 * ggml shape `[n_in, r]` and `lora_b` `[r, n_out]`, as llama.cpp checks when loading.
 *
 * The report says how much of each change the rank keeps. At a rank of at least the smaller
 * dimension the factorization is exact up to F32 rounding (retained energy 1).
 *
 * @example
 * ```ts
 * const result = await extractLora({ baseModelPath: 'base.gguf', trainedModelPath: 'trained.gguf', outputPath: 'lora.gguf', rank: 8 });
 * console.log(`rank 8 keeps ${(result.retainedEnergy * 100).toFixed(1)} % of the change`);
 * ```
 * @throws {LoraExtractionError} for a bad rank, models that do not match, or unreadable tensor types.
 */
export async function extractLora(options: ExtractLoraOptions): Promise<LoraExtractionResult> {
  const { rank, alpha } = checkRankAndAlpha(options);
  const filter = options.tensors ?? 'all';

  const [base, trained] = await Promise.all([
    inspect(options.baseModelPath, 'base model'),
    inspect(options.trainedModelPath, 'trained model'),
  ]);
  if (base.architecture !== trained.architecture) {
    throw new LoraExtractionError(`the base model is ${base.architecture} but the trained model is ${trained.architecture}`);
  }
  const trainedByName = new Map(trained.tensors.map((tensor) => [tensor.name, tensor]));
  const adapter = new LoraAdapterGguf(base.architecture, rank, alpha);

  const reports: LoraTensorReport[] = [];
  const skipped: LoraSkippedTensor[] = [];
  let deltaEnergy = 0;
  let keptEnergy = 0;
  let errorEnergy = 0;
  let uncovered = 0;

  const baseFile = await open(options.baseModelPath, 'r');
  const trainedFile = await open(options.trainedModelPath, 'r');
  try {
    for (const baseTensor of base.tensors) {
      if (options.signal?.aborted) throw new AbortedError('LoRA extraction', { cause: options.signal.reason });
      const change = await readTensorChange(baseFile, trainedFile, baseTensor, matchingTensor(trainedByName, baseTensor));
      if (change === undefined) {
        skipped.push({ name: baseTensor.name, reason: 'unchanged', deltaNorm: 0 });
        continue;
      }
      const { energy } = change;
      const deltaNorm = Math.sqrt(energy);
      const reason = baseTensor.shape.length !== 2 ? 'not-a-matrix' : !isTrainableTensor(baseTensor.name, filter) ? 'filtered' : undefined;
      if (reason !== undefined) {
        skipped.push({ name: baseTensor.name, reason, deltaNorm });
        uncovered += energy;
        continue;
      }

      const { report, kept, error } = addToAdapter(adapter, baseTensor, change, rank, alpha, options);
      reports.push(report);
      options.onTensor?.(report);
      deltaEnergy += energy;
      keptEnergy += kept;
      errorEnergy += error;
    }
  } finally {
    await Promise.all([baseFile.close(), trainedFile.close()]);
  }

  if (reports.length === 0) {
    const why = uncovered > 0 ? 'only tensors a LoRA cannot carry (1-D or filtered out) changed' : 'no tensor changed';
    throw new LoraExtractionError(`nothing to extract: ${why} between ${options.baseModelPath} and ${options.trainedModelPath}`);
  }
  const { bytes } = await adapter.writeTo(options.outputPath);
  return {
    outputPath: options.outputPath,
    bytes,
    architecture: base.architecture,
    rank,
    alpha,
    tensors: reports,
    skipped,
    retainedEnergy: keptEnergy / deltaEnergy,
    relativeError: Math.sqrt(errorEnergy / deltaEnergy),
    uncoveredEnergy: uncovered / (deltaEnergy + uncovered),
  };
}

/** Factorizes one changed matrix into the adapter, and reports how much of its change it keeps. */
function addToAdapter(
  adapter: LoraAdapterGguf,
  baseTensor: GgufTensor,
  change: TensorChange,
  rank: number,
  alpha: number,
  options: ExtractLoraOptions,
): { report: LoraTensorReport; kept: number; error: number } {
  const [nIn, nOut] = baseTensor.shape as [number, number];
  const factors = factorizeLoraDelta(change.delta, [nIn, nOut], rank, alpha, {
    powerIterations: options.powerIterations,
    oversampling: options.oversampling,
    seed: options.seed,
  });
  adapter.add(baseTensor.name, [nIn, nOut], factors);
  const { energy } = change;
  const deltaNorm = Math.sqrt(energy);
  const report: LoraTensorReport = {
    name: baseTensor.name,
    shape: [nIn, nOut],
    rank: factors.rank,
    deltaNorm,
    relativeChange: change.baseEnergy > 0 ? deltaNorm / Math.sqrt(change.baseEnergy) : Number.POSITIVE_INFINITY,
    retainedEnergy: factors.kept / energy,
    relativeError: Math.sqrt(factors.error / energy),
  };
  return { report, kept: factors.kept, error: factors.error };
}

function checkRankAndAlpha(options: ExtractLoraOptions): { rank: number; alpha: number } {
  const { rank } = options;
  if (!Number.isInteger(rank) || rank < 1 || rank > 65_536) {
    throw new LoraExtractionError(`rank ${String(rank)} is not an integer from 1 to 65536`);
  }
  const alpha = options.alpha ?? rank;
  if (!Number.isFinite(alpha) || alpha <= 0) throw new LoraExtractionError(`alpha ${String(alpha)} is not a number above 0`);
  return { rank, alpha };
}

/** The trained model's tensor of the same name and shape as `baseTensor`. */
function matchingTensor(trainedByName: ReadonlyMap<string, GgufTensor>, baseTensor: GgufTensor): GgufTensor {
  const trainedTensor = trainedByName.get(baseTensor.name);
  if (trainedTensor === undefined) {
    throw new LoraExtractionError(`tensor ${baseTensor.name} of the base model is missing from the trained model`);
  }
  if (baseTensor.shape.join() !== trainedTensor.shape.join()) {
    throw new LoraExtractionError(
      `tensor ${baseTensor.name} is [${baseTensor.shape.join(', ')}] in the base model but [${trainedTensor.shape.join(', ')}] in the trained one`,
    );
  }
  return trainedTensor;
}

async function inspect(path: string, what: string): Promise<GgufModelInfo> {
  let info: GgufModelInfo;
  try {
    info = await inspectGgufModel(path);
  } catch (error) {
    throw new LoraExtractionError(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
  const unreadable = info.tensors.find((tensor: GgufTensor) => !TRAINABLE_GGML_TYPES.has(tensor.type));
  if (unreadable !== undefined) {
    throw new LoraExtractionError(`the ${what} has ${unreadable.typeName} tensors (${unreadable.name}); only F32, F16 and BF16 models can be compared`);
  }
  return info;
}
