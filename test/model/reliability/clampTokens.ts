import { RawJson } from './jsonText.js';

const TOKEN_KEYS = new Set(['max_tokens', 'max_completion_tokens', 'maxTokens']);
/** Most tokens a fuzzed request may generate: enough to stream, cheap enough for hundreds a second. */
export const TOKEN_CAP = 4;

/** Where a route's body says how many tokens to generate. */
export type TokenField = 'openai' | 'params' | 'payload' | 'none';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson);

/**
 * Keeps generation cheap after the body was generated: every token-count field that is a number
 * over {@link TOKEN_CAP} (a JS number, or a raw token like `1e999`) becomes the cap, and a body
 * that would generate without naming a count (the default is 256) gets one. Wrong types stay:
 * they are what the fuzz is for.
 */
export function clampTokens(value: unknown, where: TokenField): unknown {
  const body = clampDeep(value, 0);
  if (!isObject(body)) return body;
  if (where === 'openai' && body.max_tokens === undefined && body.max_completion_tokens === undefined) body.max_tokens = TOKEN_CAP;
  // Only the messages that generate: other payloads would refuse a `params` they do not take.
  const generates = body.type === 'generate' || body.type === 'inference';
  const holder = where === 'payload' ? (generates ? body.payload : undefined) : where === 'params' ? body : undefined;
  if (isObject(holder)) {
    if (holder.params === undefined) holder.params = { maxTokens: TOKEN_CAP };
    else if (isObject(holder.params)) holder.params.maxTokens ??= TOKEN_CAP;
  }
  return body;
}

function clampDeep(value: unknown, depth: number): unknown {
  if (depth > 8 || typeof value !== 'object' || value === null || value instanceof RawJson) return value;
  if (Array.isArray(value)) return value.map((item) => clampDeep(item, depth + 1));
  const out: Json = {};
  for (const [key, item] of Object.entries(value)) {
    const numeric = typeof item === 'number' ? item : item instanceof RawJson ? item.numeric : Number.NaN;
    out[key] = TOKEN_KEYS.has(key) && numeric > TOKEN_CAP ? TOKEN_CAP : clampDeep(item, depth + 1);
  }
  return out;
}
