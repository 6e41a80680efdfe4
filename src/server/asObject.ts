import { InvalidArgumentError } from '../messaging/errors.js';

/** A request body once it is known to be a JSON object: every field is still checked before use. */
export type Body = Record<string, unknown>;

/** @internal */
export function asObject(body: unknown): Body {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('the request body must be a JSON object');
  return body as Body;
}
