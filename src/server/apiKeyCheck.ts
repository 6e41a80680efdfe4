import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './httpErrors.js';

/**
 * @internal A bearer-token check that takes the same time whatever the guess: both sides are
 * hashed to a fixed length first, so neither the key's length nor its first differing byte shows
 * in the response time (`!==` stops at the first difference).
 */
export function bearerCheck(apiKey: string): (authorization: string | undefined) => boolean {
  const expected = createHash('sha256').update(`Bearer ${apiKey}`).digest();
  return (authorization) => {
    const given = createHash('sha256').update(authorization ?? '').digest();
    return timingSafeEqual(given, expected) && authorization !== undefined;
  };
}

/**
 * @internal Routes a browser or a load balancer must reach without the key: the chat page (it asks
 * for the key), its icon and the health check; and `GET /openapi.json`, which describes the request
 * shapes only (what README.md and the package's source already publish: no models, sessions or
 * other state), and which API explorers and client generators fetch before they are given a key.
 */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/', '/health', '/favicon.ico', '/favicon.svg', '/openapi.json']);

/**
 * @internal An `onRequest` hook requiring the key on every route but {@link OPEN_PATHS}: as
 * `Authorization: Bearer <apiKey>` (OpenAI and Ollama clients), or as `x-api-key: <apiKey>`, which
 * the Anthropic SDK sends.
 */
export function apiKeyHook(apiKey: string) {
  const authorized = bearerCheck(apiKey);
  return async (request: FastifyRequest): Promise<void> => {
    if (OPEN_PATHS.has(request.url.split('?')[0] ?? '')) return;
    const xApiKey = request.headers['x-api-key'];
    const given = request.headers.authorization ?? (typeof xApiKey === 'string' ? `Bearer ${xApiKey}` : undefined);
    if (!authorized(given)) throw new HttpError('UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <key>, or x-api-key: <key>)');
  };
}
