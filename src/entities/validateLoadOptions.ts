import { MAX_ADAPTER_SCALE } from '../actors/ModelActor/types.js';
import { InvalidParameterError } from '../actors/ModelActor/modelErrors.js';
import { resolveGenerationParams } from '../actors/ModelActor/resolveGenerationParams.js';
import { InvalidEntityError } from './entityErrors.js';
import type { ModelLoadOptions } from './types.js';

/** One field's rule: what it must be, in words, and whether a value is that. */
interface FieldRule {
  /** Completes "load.<field> must be …". */
  readonly expected: string;
  /** A reason the value is refused (for nested values), true if it is fine, false if not. */
  readonly check: (value: unknown) => boolean | string;
}

function integer(min: number, max: number): FieldRule {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  return { expected, check: (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max };
}

const boolean: FieldRule = { expected: 'true or false', check: (value) => typeof value === 'boolean' };

/** setTimeout fires at once for delays over 2^31 − 1 ms, so an idle time past that would free contexts immediately. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The declared schema of {@link ModelLoadOptions}: every field's type and range. Typed over all of
 * the interface's keys, so a new load option does not compile until it has a rule here. The
 * ranges are what the ModelActor and llama.cpp can honour: more than 64 slots or 1024 threads is
 * a typo, not a configuration, and a context under 16 tokens holds no prompt.
 */
const LOAD_OPTION_RULES: { readonly [K in keyof Required<ModelLoadOptions>]: FieldRule } = {
  slots: integer(1, 64),
  maxQueue: integer(0, Number.MAX_SAFE_INTEGER),
  contextSize: integer(16, 1_048_576),
  batchSize: integer(1, 1_048_576),
  threads: integer(1, 1024),
  flashAttention: { expected: "true, false or 'auto'", check: (value) => typeof value === 'boolean' || value === 'auto' },
  gpuLayers: {
    expected: "'auto', 'max' or an integer of at least 0",
    check: (value) => value === 'auto' || value === 'max' || (Number.isInteger(value) && (value as number) >= 0),
  },
  engine: {
    expected: "'auto', 'native' or 'node-llama-cpp'",
    check: (value) => value === 'auto' || value === 'native' || value === 'node-llama-cpp',
  },
  defaultParams: { expected: 'an object of generation parameters', check: checkDefaultParams },
  embeddings: boolean,
  reuseKvCache: boolean,
  adapters: { expected: 'an array of { path: string, scale?: number }', check: checkAdapters },
  maxContexts: integer(1, 64),
  adapterContextIdleMs: integer(0, MAX_TIMER_MS),
};

/**
 * Checks a model's load options against their declared schema before they are stored, so a bad
 * value is refused when the model is published rather than on its first use. Unknown keys are
 * refused too (a misspelt option silently ignored is worse than a refusal). Throws
 * `InvalidEntityError` (`INVALID_ENTITY`, HTTP 400) naming the field, the value and what it must
 * be, e.g. `load.threads must be an integer from 1 to 1024, got -5`.
 *
 * @example
 * ```ts
 * validateLoadOptions({ slots: 2, contextSize: 2048 }); // returns the options
 * validateLoadOptions({ threads: -5 });                  // throws INVALID_ENTITY
 * ```
 */
export function validateLoadOptions(load: unknown, field = 'load'): ModelLoadOptions {
  if (typeof load !== 'object' || load === null || Array.isArray(load)) {
    throw new InvalidEntityError(`${field} must be an object of load options, got ${show(load)}`);
  }
  for (const [name, value] of Object.entries(load)) {
    if (!Object.hasOwn(LOAD_OPTION_RULES, name)) {
      throw new InvalidEntityError(`${field}.${name} is not a load option; known: ${Object.keys(LOAD_OPTION_RULES).join(', ')}`);
    }
    // undefined is what an omitted option is; JSON never carries it.
    if (value === undefined) continue;
    const rule = LOAD_OPTION_RULES[name as keyof ModelLoadOptions];
    const verdict = rule.check(value);
    if (verdict === true) continue;
    throw new InvalidEntityError(`${field}.${name} must be ${rule.expected}, got ${show(value)}${typeof verdict === 'string' ? `: ${verdict}` : ''}`);
  }
  return load as ModelLoadOptions;
}

/** The generation-parameter rules requests are held to, applied to the defaults now. */
function checkDefaultParams(value: unknown): boolean | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  try {
    resolveGenerationParams(undefined, value);
    return true;
  } catch (error) {
    if (error instanceof InvalidParameterError) return error.message;
    throw error;
  }
}

function checkAdapters(value: unknown): boolean | string {
  if (!Array.isArray(value)) return false;
  for (const [index, spec] of value.entries()) {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return `[${index}] is ${show(spec)}`;
    const { path, scale, ...rest } = spec as Record<string, unknown>;
    if (typeof path !== 'string' || path.length === 0) return `[${index}].path must be a non-empty string, got ${show(path)}`;
    if (scale !== undefined && (typeof scale !== 'number' || !Number.isFinite(scale) || Math.abs(scale) > MAX_ADAPTER_SCALE)) {
      return `[${index}].scale must be a number from -${MAX_ADAPTER_SCALE} to ${MAX_ADAPTER_SCALE}, got ${show(scale)}`;
    }
    const unknown = Object.keys(rest);
    if (unknown.length > 0) return `[${index}] has unknown key ${unknown[0]}`;
  }
  return true;
}

/** A value as the message shows it: JSON where JSON can say it (NaN and Infinity cannot), kept short. */
function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
