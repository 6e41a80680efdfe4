/** @internal A token and its natural-log probability. */
export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** @internal What a sampled token reports of its logits row. */
export interface RowLogprobs {
  /** log p(chosen). */
  logprob: number;
  /** The `top` most likely tokens, most likely first (ties: the lower id first). */
  top: TokenLogprob[];
}

/** Largest logit of a row, and log Σ exp(logit − max): `logit − max − logSum` is the log-probability. */
function normalizer(logits: Float32Array): { max: number; logSum: number } {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > max) max = logits[i] as number;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  return { max, logSum: Math.log(sum) };
}

/** @internal log p(token) under the softmax of a logits row. */
export function tokenLogprob(logits: Float32Array, token: number): number {
  const { max, logSum } = normalizer(logits);
  return (logits[token] as number) - max - logSum;
}

/**
 * @internal The log-softmax of a logits row at the chosen token and at the `top` most likely tokens,
 * in two passes over the row (the top ones kept in a small sorted list: `top` is at most 20).
 */
export function rowLogprobs(logits: Float32Array, chosen: number, top: number): RowLogprobs {
  const { max, logSum } = normalizer(logits);
  const tokens: number[] = [];
  const values: number[] = [];
  if (top > 0) {
    for (let token = 0; token < logits.length; token++) {
      const logit = logits[token] as number;
      // Not `<=`: among equal logits the lower id, seen first, stays ahead.
      if (tokens.length === top && !(logit > (values[top - 1] as number))) continue;
      let at = Math.min(tokens.length, top - 1);
      while (at > 0 && logit > (values[at - 1] as number)) at--;
      if (tokens.length === top) {
        tokens.pop();
        values.pop();
      }
      tokens.splice(at, 0, token);
      values.splice(at, 0, logit);
    }
  }
  return {
    logprob: (logits[chosen] as number) - max - logSum,
    top: tokens.map((token, i) => ({ token, logprob: (values[i] as number) - max - logSum })),
  };
}
