import { truncatedSvd, type TruncatedSvdOptions } from './truncatedSvd.js';

/** The LoRA factors of one weight change, as F32, and how much of the change they carry. */
export interface LoraFactors {
  /** Rank used: `min(rank, n_in, n_out)`. */
  rank: number;
  /** ggml shape `[n_in, r]`: r rows of n_in values. */
  loraA: Float32Array;
  /** ggml shape `[r, n_out]`: n_out rows of r values. */
  loraB: Float32Array;
  /** `‖(alpha/r)·B·A‖_F²` with the factors as written. */
  kept: number;
  /** `‖ΔW − (alpha/r)·B·A‖_F²` with the factors as written. */
  error: number;
}

/**
 * Factorizes the change `delta` of a weight of ggml shape `[nIn, nOut]` to rank `rank` by a
 * truncated SVD, `ΔW ≈ U·S·Vᵀ`, as `lora_b = U·√S·(r/alpha)` and `lora_a = √S·Vᵀ`: llama.cpp applies
 * `scale · alpha / r · B (A x)`, so at adapter scale 1 the update is the weight change, whatever
 * alpha is.
 */
export function factorizeLoraDelta(
  delta: Float64Array,
  [nIn, nOut]: readonly [number, number],
  rank: number,
  alpha: number,
  svdOptions: TruncatedSvdOptions,
): LoraFactors {
  // ggml stores [n_in, n_out] as n_out rows of n_in values: row-major ΔW (n_out × n_in), y = ΔW x.
  const svd = truncatedSvd({ rows: nOut, columns: nIn, data: delta }, rank, {
    powerIterations: svdOptions.powerIterations,
    oversampling: svdOptions.oversampling,
    seed: svdOptions.seed,
  });
  const r = svd.rank;
  // lora_b (ggml [r, n_out]): n_out rows of r values = U·√S·(r/alpha); lora_a (ggml [n_in, r]): r rows of n_in values = √S·Vᵀ.
  const scaleB = r / alpha;
  const loraB = new Float32Array(nOut * r);
  const loraA = new Float32Array(r * nIn);
  for (let j = 0; j < r; j++) {
    const root = Math.sqrt(svd.s[j]!);
    for (let i = 0; i < nOut; i++) loraB[i * r + j] = svd.u.data[i * r + j]! * root * scaleB;
    for (let i = 0; i < nIn; i++) loraA[j * nIn + i] = svd.v.data[i * r + j]! * root;
  }
  const { kept, error } = reconstructionEnergy(delta, loraB, loraA, nOut, nIn, r, alpha / r);
  return { rank: r, loraA, loraB, kept, error };
}

/**
 * `‖scale·B·A‖²` and `‖ΔW − scale·B·A‖²` from the F32 factors as written, one row at a time (no
 * `n_out × n_in` reconstruction is held).
 */
function reconstructionEnergy(
  delta: Float64Array,
  loraB: Float32Array,
  loraA: Float32Array,
  rows: number,
  columns: number,
  rank: number,
  scale: number,
): { kept: number; error: number } {
  const row = new Float64Array(columns);
  let kept = 0;
  let error = 0;
  for (let i = 0; i < rows; i++) {
    row.fill(0);
    for (let j = 0; j < rank; j++) {
      const b = loraB[i * rank + j]! * scale;
      if (b === 0) continue;
      const offset = j * columns;
      for (let t = 0; t < columns; t++) row[t]! += b * loraA[offset + t]!;
    }
    const deltaOffset = i * columns;
    for (let t = 0; t < columns; t++) {
      const value = row[t]!;
      kept += value * value;
      const difference = delta[deltaOffset + t]! - value;
      error += difference * difference;
    }
  }
  return { kept, error };
}
