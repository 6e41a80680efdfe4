/**
 * Which weights a training job updates: every tensor llama.cpp can train, or those picked by layer
 * and by name.
 *
 * - `layers`: block indices; only `blk.<i>.*` tensors of those blocks are trained (so `output` and
 *   `output_norm` are not).
 * - `tensors`: name patterns, `*` matching any run of characters. A pattern is matched against a
 *   block tensor's role (`attn_q` for `blk.3.attn_q.weight`), against the name without its
 *   `.weight` / `.bias` suffix (`output`, `output_norm`) and against the full name.
 *
 * With both, a tensor must satisfy both. `{}` selects everything, like `'all'`.
 *
 * Only F32 weights train (F16 / BF16 models are converted first), and two limits come from llama.cpp
 * itself: the token embedding is never trained (see {@link NEVER_TRAINED_TENSORS}), and in this
 * build `attn_k` / `attn_v` are marked trainable but come out unchanged: attention reads K and V back
 * from the KV cache, and no gradient flows through the cache write to their projections.
 *
 * @example
 * ```ts
 * // The attention projections of the last two blocks of a 16-block model:
 * const trainable: TrainableTensors = { layers: [14, 15], tensors: ['attn_q', 'attn_k', 'attn_v', 'attn_output'] };
 * ```
 */
export type TrainableTensors =
  | 'all'
  | {
      /** Block indices. Defaults to every block (and the tensors outside blocks). */
      readonly layers?: readonly number[];
      /** Name patterns such as `attn_q`, `ffn_*`, `output`. Defaults to every tensor. */
      readonly tensors?: readonly string[];
    };

/**
 * Tensors llama.cpp never trains whatever the filter says: it leaves the token embedding out of
 * `llama_opt_init` (a FIXME upstream) and skips `rope_freqs`.
 */
export const NEVER_TRAINED_TENSORS: ReadonlySet<string> = new Set(['token_embd.weight', 'rope_freqs.weight']);

const BLOCK_TENSOR = /^blk\.(\d+)\.(.+)$/;
const SUFFIX = /\.(weight|bias)$/;

/**
 * Whether `name` (a GGUF / ggml tensor name) is selected by `trainable`. Does not apply
 * {@link NEVER_TRAINED_TENSORS}; callers listing what will train should.
 */
export function isTrainableTensor(name: string, trainable: TrainableTensors): boolean {
  if (trainable === 'all') return true;
  const block = BLOCK_TENSOR.exec(name);
  if (trainable.layers !== undefined) {
    if (block === null || !trainable.layers.includes(Number(block[1]))) return false;
  }
  if (trainable.tensors !== undefined) {
    const bare = name.replace(SUFFIX, '');
    const role = block === null ? undefined : (block[2] ?? '').replace(SUFFIX, '');
    const candidates = role === undefined ? [name, bare] : [name, bare, role];
    return trainable.tensors.some((pattern) => {
      const regex = globToRegExp(pattern);
      return candidates.some((candidate) => regex.test(candidate));
    });
  }
  return true;
}

/** A short, stable text for messages: `all` or the JSON of the filter. */
export function describeTrainableTensors(trainable: TrainableTensors): string {
  return trainable === 'all' ? "'all'" : JSON.stringify(trainable);
}

const globCache = new Map<string, RegExp>();

function globToRegExp(pattern: string): RegExp {
  let regex = globCache.get(pattern);
  if (regex === undefined) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${body}$`);
    globCache.set(pattern, regex);
  }
  return regex;
}
