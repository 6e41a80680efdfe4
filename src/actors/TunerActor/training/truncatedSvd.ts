/**
 * Truncated singular value decomposition of a dense matrix, in Float64, in plain TypeScript.
 *
 * Randomized range finder with power iterations (Halko, Martinsson & Tropp 2011, algorithms 4.4 and
 * 5.1): `Q` = an orthonormal basis of `M Ω` for a Gaussian `Ω` of `rank + oversampling` columns,
 * sharpened by `q` rounds of `M Mᵀ`; then the small matrix `Qᵀ M` is decomposed exactly with
 * one-sided Jacobi rotations. When `rank + oversampling` reaches the smaller dimension the basis
 * spans the whole column space and the result is the exact SVD (up to rounding), so a full-rank
 * request reproduces the matrix.
 *
 * Cost: about `(2 + 2q) · m · n · (rank + oversampling)` multiply-adds.
 */

/** A dense row-major matrix. */
export interface DenseMatrix {
  readonly rows: number;
  readonly columns: number;
  /** `rows × columns` values, row after row. */
  readonly data: Float64Array;
}

/** `M ≈ U · diag(S) · Vᵀ`, singular values in decreasing order. */
export interface TruncatedSvd {
  /** Rank of the decomposition: `min(rank, rows, columns)`. */
  readonly rank: number;
  /** `rows × rank`, orthonormal columns. */
  readonly u: DenseMatrix;
  /** `rank` singular values, largest first. */
  readonly s: Float64Array;
  /** `columns × rank`, orthonormal columns. */
  readonly v: DenseMatrix;
}

/** Options of {@link truncatedSvd}. */
export interface TruncatedSvdOptions {
  /** Extra random directions beyond the rank. Defaults to `8`. */
  oversampling?: number;
  /** Power iterations: more sharpen the leading directions when singular values decay slowly. Defaults to `2`. */
  powerIterations?: number;
  /** Seeds the random test matrix. Defaults to `0`. */
  seed?: number;
}

/**
 * The best rank-`rank` approximation of `matrix` (exact when `rank + oversampling ≥ min(rows, columns)`).
 *
 * @example
 * ```ts
 * const { u, s, v } = truncatedSvd({ rows: 3, columns: 2, data: Float64Array.of(1, 0, 0, 2, 0, 0) }, 1);
 * s[0]; // 2
 * ```
 */
export function truncatedSvd(matrix: DenseMatrix, rank: number, options: TruncatedSvdOptions = {}): TruncatedSvd {
  const { rows: m, columns: n } = matrix;
  const k = Math.max(0, Math.min(rank, m, n));
  const l = Math.min(k + (options.oversampling ?? 8), m, n);
  const random = gaussian(options.seed ?? 0);

  const omega = new Float64Array(n * l);
  for (let i = 0; i < omega.length; i++) omega[i] = random();
  let q = orthonormalize(multiply(matrix, { rows: n, columns: l, data: omega }));
  for (let iteration = 0; iteration < (options.powerIterations ?? 2); iteration++) {
    const z = orthonormalize(multiplyTransposed(matrix, q)); // n × l
    q = orthonormalize(multiply(matrix, z)); // m × l
  }

  // B = Qᵀ M is l × n; decompose its transpose X = Bᵀ (n × l): X W = U_x Σ, so B = W Σ U_xᵀ.
  const x = multiplyTransposed(matrix, q); // n × l, equal to (Qᵀ M)ᵀ
  const { w, sigma } = oneSidedJacobi(x);
  const order = [...sigma.keys()].sort((a, b) => sigma[b]! - sigma[a]!).slice(0, k);

  const u = new Float64Array(m * k);
  const s = new Float64Array(k);
  const v = new Float64Array(n * k);
  const qw = multiply(q, w); // m × l: left singular vectors of M
  order.forEach((column, target) => {
    const value = sigma[column]!;
    s[target] = value;
    for (let i = 0; i < m; i++) u[i * k + target] = qw.data[i * l + column]!;
    // The columns of X after rotation are U_x Σ: normalize them to get V.
    for (let j = 0; j < n; j++) v[j * k + target] = value > 0 ? x.data[j * l + column]! / value : 0;
  });
  return { rank: k, u: { rows: m, columns: k, data: u }, s, v: { rows: n, columns: k, data: v } };
}

/** `A · B`. */
function multiply(a: DenseMatrix, b: DenseMatrix): DenseMatrix {
  const { rows: m, columns: inner } = a;
  const p = b.columns;
  const out = new Float64Array(m * p);
  for (let i = 0; i < m; i++) {
    const rowOffset = i * inner;
    const outOffset = i * p;
    for (let t = 0; t < inner; t++) {
      const value = a.data[rowOffset + t]!;
      if (value === 0) continue;
      const bOffset = t * p;
      for (let j = 0; j < p; j++) out[outOffset + j]! += value * b.data[bOffset + j]!;
    }
  }
  return { rows: m, columns: p, data: out };
}

/** `Aᵀ · B` without forming `Aᵀ`. */
function multiplyTransposed(a: DenseMatrix, b: DenseMatrix): DenseMatrix {
  const { rows: m, columns: n } = a;
  const p = b.columns;
  const out = new Float64Array(n * p);
  for (let i = 0; i < m; i++) {
    const aOffset = i * n;
    const bOffset = i * p;
    for (let t = 0; t < n; t++) {
      const value = a.data[aOffset + t]!;
      if (value === 0) continue;
      const outOffset = t * p;
      for (let j = 0; j < p; j++) out[outOffset + j]! += value * b.data[bOffset + j]!;
    }
  }
  return { rows: n, columns: p, data: out };
}

/**
 * Orthonormal columns spanning those of `a` (modified Gram-Schmidt, twice for stability). Columns
 * that are (numerically) dependent become zero rather than noise, so they add nothing later.
 */
function orthonormalize(a: DenseMatrix): DenseMatrix {
  const { rows, columns } = a;
  const data = Float64Array.from(a.data);
  const norms = new Float64Array(columns);
  for (let j = 0; j < columns; j++) {
    let original = 0;
    for (let i = 0; i < rows; i++) original += data[i * columns + j]! ** 2;
    norms[j] = Math.sqrt(original);
  }
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < columns; j++) {
      for (let previous = 0; previous < j; previous++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += data[i * columns + j]! * data[i * columns + previous]!;
        if (dot === 0) continue;
        for (let i = 0; i < rows; i++) data[i * columns + j]! -= dot * data[i * columns + previous]!;
      }
      let norm = 0;
      for (let i = 0; i < rows; i++) norm += data[i * columns + j]! ** 2;
      norm = Math.sqrt(norm);
      const negligible = norm <= 1e-12 * (norms[j]! || 1) || norm === 0;
      for (let i = 0; i < rows; i++) data[i * columns + j] = negligible ? 0 : data[i * columns + j]! / norm;
    }
  }
  return { rows, columns, data };
}

/**
 * One-sided Jacobi (Hestenes) on the columns of `x` (rows ≥ columns, in place): rotates column
 * pairs until all are orthogonal. Afterwards column j of `x` is `σ_j u_j`, and `w` holds the
 * accumulated rotations (the right singular vectors of the original `x`).
 */
function oneSidedJacobi(x: DenseMatrix): { w: DenseMatrix; sigma: Float64Array } {
  const { rows, columns: l } = x;
  const data = x.data;
  const w = new Float64Array(l * l);
  for (let i = 0; i < l; i++) w[i * l + i] = 1;
  const epsilon = 1e-15;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < l - 1; p++) {
      for (let r = p + 1; r < l; r++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          const xp = data[i * l + p]!;
          const xr = data[i * l + r]!;
          alpha += xp * xp;
          beta += xr * xr;
          gamma += xp * xr;
        }
        if (gamma === 0 || Math.abs(gamma) <= epsilon * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const xp = data[i * l + p]!;
          const xr = data[i * l + r]!;
          data[i * l + p] = c * xp - s * xr;
          data[i * l + r] = s * xp + c * xr;
        }
        for (let i = 0; i < l; i++) {
          const wp = w[i * l + p]!;
          const wr = w[i * l + r]!;
          w[i * l + p] = c * wp - s * wr;
          w[i * l + r] = s * wp + c * wr;
        }
      }
    }
    if (!rotated) break;
  }
  const sigma = new Float64Array(l);
  for (let j = 0; j < l; j++) {
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += data[i * l + j]! ** 2;
    sigma[j] = Math.sqrt(norm);
  }
  return { w: { rows: l, columns: l, data: w }, sigma };
}

/** Standard normal samples from a seeded generator (Box-Muller over mulberry32). */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4_294_967_296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}
