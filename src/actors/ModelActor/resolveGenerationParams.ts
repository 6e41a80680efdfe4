import { checkJsonSchema } from './checkJsonSchema.js';
import { InvalidParameterError } from './modelErrors.js';
import type { GenerationParams, RepeatPenaltyParams } from './types.js';

/** Smallest repeat penalty: see where it is checked. */
const MIN_REPEAT_PENALTY = 0.01;

/** @internal Parameters with defaults applied and every value checked. */
export interface ResolvedGenerationParams {
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  seed: number | undefined;
  repeatPenalty: Required<RepeatPenaltyParams> | undefined;
  stop: string[];
  jsonSchema: object | undefined;
  /** Ascending by token, no bias of 0. */
  logitBias: LogitBias[];
}

/** @internal One token's logit bias (llama.cpp's `llama_logit_bias`). */
export interface LogitBias {
  token: number;
  bias: number;
}

/** OpenAI's `logit_bias` range: −100 effectively bans a token, +100 effectively forces it. */
const MAX_LOGIT_BIAS = 100;

/** Most alternatives a token event may carry (OpenAI's `top_logprobs` limit). */
export const MAX_TOP_LOGPROBS = 20;

const KNOWN = new Set([
  'maxTokens',
  'temperature',
  'topK',
  'topP',
  'minP',
  'seed',
  'repeatPenalty',
  'stop',
  'jsonSchema',
  'logitBias',
]);

function number(name: string, value: unknown, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    const shown = typeof value === 'number' ? String(value) : JSON.stringify(value);
    throw new InvalidParameterError(name, `expected a number, got ${shown}`);
  }
  if (integer && !Number.isInteger(value)) throw new InvalidParameterError(name, `expected an integer, got ${value}`);
  if (value < min || value > max) throw new InvalidParameterError(name, `${value} is outside ${min}..${max}`);
  return value;
}

/**
 * @internal `logitBias` checked: an object of token id → bias in −100..100, each id an integer
 * inside the vocabulary (when its size is given).
 */
export function resolveLogitBias(value: unknown, vocabularySize?: number): LogitBias[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidParameterError('logitBias', `expected an object of token id → bias, got ${JSON.stringify(value)}`);
  }
  const biases: LogitBias[] = [];
  for (const [key, bias] of Object.entries(value)) {
    if (!/^(0|[1-9]\d{0,9})$/.test(key)) throw new InvalidParameterError('logitBias', `token ids are integers ≥ 0, got ${JSON.stringify(key)}`);
    const token = Number(key);
    if (vocabularySize !== undefined && token >= vocabularySize) {
      throw new InvalidParameterError('logitBias', `token ${token} is outside the vocabulary of ${vocabularySize} tokens (ids 0..${vocabularySize - 1})`);
    }
    const checked = number(`logitBias.${key}`, bias, -MAX_LOGIT_BIAS, MAX_LOGIT_BIAS);
    if (checked !== 0) biases.push({ token, bias: checked });
  }
  return biases.sort((a, b) => a.token - b.token);
}

/** @internal A request's `topLogprobs` checked: an integer 0..{@link MAX_TOP_LOGPROBS}, `0` when absent. */
export function resolveTopLogprobs(value: unknown): number {
  return value === undefined ? 0 : number('topLogprobs', value, 0, MAX_TOP_LOGPROBS, true);
}

/**
 * @internal Merges request parameters over defaults and validates them. Unknown names are errors
 * too: a misspelt `max_tokens` silently ignored would be a worse bug than a refusal.
 */
export function resolveGenerationParams(
  defaults: GenerationParams | undefined,
  params: GenerationParams | undefined,
  /** The model's vocabulary, which `logitBias` ids must lie in. Defaults to unchecked ids. */
  vocabularySize?: number,
): ResolvedGenerationParams {
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    throw new InvalidParameterError('params', `expected an object, got ${JSON.stringify(params)}`);
  }
  for (const name of Object.keys(params ?? {})) {
    if (!KNOWN.has(name)) throw new InvalidParameterError(name, `unknown parameter; known: ${[...KNOWN].join(', ')}`);
  }
  const merged: GenerationParams = { ...defaults, ...params };
  const penalty = merged.repeatPenalty;
  let repeatPenalty: Required<RepeatPenaltyParams> | undefined;
  if (penalty !== undefined && penalty !== false) {
    if (typeof penalty !== 'object' || penalty === null) {
      throw new InvalidParameterError('repeatPenalty', `expected an object or false, got ${JSON.stringify(penalty)}`);
    }
    repeatPenalty = {
      // Logits are divided by the penalty: below 0.01 (0 included) they overflow to infinity, and
      // with no top-k / min-p cut and a grammar, sampling then never ends and holds its slot.
      penalty: number('repeatPenalty.penalty', penalty.penalty ?? 1.1, MIN_REPEAT_PENALTY, 10),
      lastTokens: number('repeatPenalty.lastTokens', penalty.lastTokens ?? 64, 0, 1_000_000, true),
      frequencyPenalty: number('repeatPenalty.frequencyPenalty', penalty.frequencyPenalty ?? 0, -2, 2),
      presencePenalty: number('repeatPenalty.presencePenalty', penalty.presencePenalty ?? 0, -2, 2),
    };
  }
  const stop = merged.stop ?? [];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new InvalidParameterError('stop', `expected an array of non-empty strings, got ${JSON.stringify(stop)}`);
  }
  if (stop.length > 16) throw new InvalidParameterError('stop', `${stop.length} stop strings, limit 16`);
  const jsonSchema = merged.jsonSchema;
  if (jsonSchema !== undefined && (typeof jsonSchema !== 'object' || jsonSchema === null || Array.isArray(jsonSchema))) {
    throw new InvalidParameterError('jsonSchema', `expected a JSON schema object, got ${JSON.stringify(jsonSchema)}`);
  }
  // Every keyword enforced by the grammar or refused (UNSUPPORTED_SCHEMA), never silently ignored.
  const grammarSchema = jsonSchema === undefined ? undefined : checkJsonSchema(jsonSchema);
  return {
    maxTokens: number('maxTokens', merged.maxTokens ?? 256, 1, 1_000_000, true),
    temperature: number('temperature', merged.temperature ?? 0.7, 0, 2),
    topK: number('topK', merged.topK ?? 40, 0, 1_000_000, true),
    topP: number('topP', merged.topP ?? 0.95, 0, 1),
    minP: number('minP', merged.minP ?? 0.05, 0, 1),
    seed: merged.seed === undefined ? undefined : number('seed', merged.seed, 0, 2 ** 32 - 1, true),
    repeatPenalty,
    stop,
    jsonSchema: grammarSchema,
    logitBias: resolveLogitBias(merged.logitBias, vocabularySize),
  };
}
