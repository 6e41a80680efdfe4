import { InvalidArgumentError } from '../messaging/errors.js';

/** Deepest nesting any route's body needs (a JSON schema in `response_format` is the deepest). */
export const MAX_BODY_DEPTH = 64;

/**
 * @internal Refuses a parsed request body nested deeper than `limit` levels. JSON.parse copes with
 * 10 000 levels, but the first error message or log line that describes such a value
 * (`JSON.stringify`, pino) overflows the stack, turning a client's mistake into a 500 and an actor
 * restart. The walk is iterative for the same reason, and stops at the first level over the limit.
 */
export function checkBodyDepth(body: unknown, limit = MAX_BODY_DEPTH): void {
  let level: unknown[] = [body];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > limit) throw new InvalidArgumentError(`request body nests more than ${limit} levels deep`);
    const next: unknown[] = [];
    for (const value of level) {
      if (typeof value === 'object' && value !== null) next.push(...(Array.isArray(value) ? value : Object.values(value)));
    }
    level = next;
  }
}
