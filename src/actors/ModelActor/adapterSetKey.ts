import type { AppliedAdapter } from './types.js';

/**
 * @internal The identity of an adapter set: its adapters sorted by path, with their scales. LoRA
 * updates add up, so order does not matter; `''` is the base model.
 */
export function adapterSetKey(adapters: readonly AppliedAdapter[]): string {
  return [...adapters]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((adapter) => `${adapter.path}@${adapter.scale}`)
    .join('|');
}
