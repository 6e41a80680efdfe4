import { resolve as resolvePath } from 'node:path';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { type AdapterSpec, type AppliedAdapter, MAX_ADAPTER_SCALE } from './types.js';

/** @internal Checks adapter specs and resolves their paths; `INVALID_PARAMETER`-style errors for bad ones. */
export function resolveAdapterSpecs(specs: readonly AdapterSpec[]): AppliedAdapter[] {
  if (!Array.isArray(specs)) throw new InvalidArgumentError(`adapters must be an array of { path, scale? }, got ${JSON.stringify(specs)}`);
  const seen = new Set<string>();
  return specs.map((spec, index) => {
    if (typeof spec !== 'object' || spec === null || typeof spec.path !== 'string' || spec.path.length === 0) {
      throw new InvalidArgumentError(`adapters[${index}] must be { path: string, scale?: number }, got ${JSON.stringify(spec)}`);
    }
    const scale = spec.scale ?? 1;
    // A larger scale overflows the logits, and node-llama-cpp's grammar sampler then throws where
    // nothing awaits it (the process dies); real adapters are used at scales around 1.
    if (typeof scale !== 'number' || !Number.isFinite(scale) || Math.abs(scale) > MAX_ADAPTER_SCALE) {
      throw new InvalidArgumentError(`adapters[${index}].scale must be a number from -${MAX_ADAPTER_SCALE} to ${MAX_ADAPTER_SCALE}, got ${String(spec.scale)}`);
    }
    const path = resolvePath(spec.path);
    if (seen.has(path)) throw new InvalidArgumentError(`adapters[${index}] repeats ${path}`);
    seen.add(path);
    return { path, scale };
  });
}
