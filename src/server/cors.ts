import type { FastifyReply, FastifyRequest } from 'fastify';
import { ActorError, ErrorKind } from '../messaging/errors.js';

/**
 * The origins allowed by default: pages served from this machine's loopback names, on any port
 * (a dev server at `http://localhost:5173`, a notebook at `http://127.0.0.1:8888`). Pages of any
 * other origin are refused: a keyless loopback server would otherwise answer any web page the
 * user happens to visit. (The `Host` check stops DNS rebinding; CORS decides which pages may read
 * the responses.)
 */
export const DEFAULT_CORS_ORIGINS = [
  'http://localhost:*',
  'http://127.0.0.1:*',
  'http://[::1]:*',
  'https://localhost:*',
  'https://127.0.0.1:*',
  'https://[::1]:*',
] as const;

/** Methods the routes answer; a preflight is told all of them. */
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
/** Response headers a page may read besides the CORS-safelisted ones: the clients back off on `retry-after`. */
const EXPOSED = 'retry-after, x-session-id';
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7,200). */
const MAX_AGE = '600';
/** A comma-separated list of header names, as `Access-Control-Request-Headers` must be. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9a-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9a-z-]+)*$/i;

/**
 * A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) from an origin the server does
 * not allow (`cors` of `createServer`, `--cors` of `llama-actors serve`): 403. Its simple
 * requests are answered without CORS headers, so the browser keeps the response from the page.
 */
export class CorsOriginNotAllowedError extends ActorError {
  override readonly kind = ErrorKind.Forbidden;

  constructor(readonly origin: string) {
    super(
      'CORS_ORIGIN_NOT_ALLOWED',
      `origin ${JSON.stringify(origin)} may not call this server from a browser; add it to cors (--cors)`,
    );
  }
}

/** One allowed origin, lower-cased, without a trailing slash; `scheme://host:*` is any port of it. */
function matcher(entry: string): (origin: string) => boolean {
  const value = entry.trim().toLowerCase().replace(/\/+$/, '');
  if (value.endsWith(':*')) {
    const base = value.slice(0, -2);
    return (origin) => origin === base || (origin.startsWith(`${base}:`) && /^\d{1,5}$/.test(origin.slice(base.length + 1)));
  }
  return (origin) => origin === value;
}

/**
 * @internal An `onRequest` hook answering CORS: a request whose `Origin` is allowed gets
 * `Access-Control-Allow-Origin: <origin>` and `Vary: Origin`; its preflight is answered 204 with
 * the methods, the requested headers (`authorization`, `content-type`, the openai client's
 * `x-stainless-*`) and a max age, before the API-key check (a preflight carries no key). A
 * refused origin gets no CORS headers, and its preflight `403 CORS_ORIGIN_NOT_ALLOWED`.
 * Registered after the `Host` check.
 */
export function corsHook(allowed: readonly string[] | '*') {
  const matchers = allowed === '*' ? undefined : allowed.map(matcher);
  const allows = (origin: string): boolean => matchers === undefined || matchers.some((match) => match(origin.toLowerCase()));
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    reply.header('vary', 'Origin');
    if (typeof origin !== 'string' || origin === '') return undefined;
    if (!allows(origin)) {
      if (preflight) throw new CorsOriginNotAllowedError(origin);
      return undefined;
    }
    reply.header('access-control-allow-origin', origin);
    if (!preflight) {
      reply.header('access-control-expose-headers', EXPOSED);
      return undefined;
    }
    const requested = request.headers['access-control-request-headers'];
    reply.header('access-control-allow-methods', METHODS);
    if (typeof requested === 'string' && HEADER_LIST.test(requested.trim())) {
      reply.header('access-control-allow-headers', requested.trim());
    }
    reply.header('access-control-max-age', MAX_AGE);
    return reply.code(204).send();
  };
}
