import { resolve as resolvePath } from 'node:path';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { AdapterNotAppliedError } from './adapterErrors.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import type { AppliedAdapter, ApplyAdapterRequest, RemoveAdapterRequest, SetAdapterScaleRequest } from './types.js';

/** @internal An edit of the model's adapter set: the set now → the set wanted (throws if it does not apply). */
export type AdapterSetChange = (current: AppliedAdapter[]) => AppliedAdapter[];

/**
 * @internal The edits the three adapter messages ask for. Each checks its payload at once (a bad
 * one is refused before waiting for earlier changes) and returns the edit, which checks against
 * the set as it is when the change runs.
 */
export const adapterSetChanges = {
  /** `applyAdapter`: adds the adapter, or replaces its scale if it is in the set. */
  apply(payload: unknown): AdapterSetChange {
    const { path, scale } = (payload ?? {}) as ApplyAdapterRequest;
    const [adapter] = resolveAdapterSpecs([{ path, ...(scale === undefined ? {} : { scale }) }]) as [AppliedAdapter];
    return (current) => [...current.filter((a) => a.path !== adapter.path), adapter];
  },

  /** `removeAdapter`: removes one adapter (`ADAPTER_NOT_APPLIED` if absent), or all without a path. */
  remove(payload: unknown): AdapterSetChange {
    const { path } = (payload ?? {}) as RemoveAdapterRequest;
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw new InvalidArgumentError('removeAdapter takes { path?: string }');
    }
    const target = path === undefined ? undefined : resolvePath(path);
    return (current) => {
      if (target === undefined) return [];
      if (!current.some((a) => a.path === target)) throw new AdapterNotAppliedError(target, current.map((a) => a.path));
      return current.filter((a) => a.path !== target);
    };
  },

  /** `setAdapterScale`: changes the scale of an adapter in the set (`ADAPTER_NOT_APPLIED` if absent). */
  setScale(payload: unknown): AdapterSetChange {
    const { path, scale } = (payload ?? {}) as SetAdapterScaleRequest;
    if (scale === undefined) throw new InvalidArgumentError('setAdapterScale needs { path, scale }');
    const [adapter] = resolveAdapterSpecs([{ path, scale }]) as [AppliedAdapter];
    return (current) => {
      if (!current.some((a) => a.path === adapter.path)) {
        throw new AdapterNotAppliedError(adapter.path, current.map((a) => a.path));
      }
      return current.map((a) => (a.path === adapter.path ? adapter : a));
    };
  },
};
