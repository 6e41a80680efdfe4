import type { Token } from 'node-llama-cpp';
import type { PoolSlot } from './ContextPool.js';
import { commonPrefix } from './commonPrefix.js';

/**
 * @internal Keeps the longest prefix of the slot's evaluated tokens that the prompt shares and
 * erases the rest; returns the tokens still to evaluate and how many were kept. At least one token
 * is always evaluated, because sampling needs the logits of the prompt's last token; `keepAtMost`
 * lowers the bound further (scoring needs the logits before its first scored token).
 */
export async function prepareSlot(
  slot: PoolSlot,
  prompt: Token[],
  reuseKvCache: boolean,
  keepAtMost = prompt.length - 1,
): Promise<{ evaluate: Token[]; cached: number }> {
  if (!reuseKvCache) {
    await slot.clearHistory();
    return { evaluate: prompt, cached: 0 };
  }
  const common = Math.min(commonPrefix(slot.contextTokens, prompt), prompt.length - 1, keepAtMost);
  if (common === 0) await slot.clearHistory();
  else if (common < slot.nextTokenIndex) {
    await slot.eraseContextTokenRanges([{ start: common, end: slot.nextTokenIndex }]);
  }
  return { evaluate: prompt.slice(common), cached: common };
}
