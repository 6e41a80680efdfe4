import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '../messaging/errors.js';
import { errorBody, HttpError } from './httpErrors.js';

/** How long a client may take, and how much it may send, before the server cuts it off. */
export interface HttpLimits {
  /** Milliseconds to receive a request's headers (slow-header clients are cut). Defaults to `10_000`. */
  headersTimeoutMs?: number;
  /** Milliseconds to receive a whole request, body included (slow-body clients are cut). Defaults to `60_000`. */
  requestTimeoutMs?: number;
  /** Milliseconds an idle keep-alive connection stays open between requests. Defaults to `5_000`. */
  keepAliveTimeoutMs?: number;
  /**
   * Milliseconds a streaming response waits for a client that has stopped reading before the
   * connection is cut and its generation stopped. Defaults to `30_000`.
   */
  writeTimeoutMs?: number;
  /** Largest request head (request line and headers) in bytes; more is a 431. Defaults to `16_384`. */
  maxHeaderBytes?: number;
}

/** @internal {@link HttpLimits} with every default applied. */
export type ResolvedHttpLimits = Required<HttpLimits>;

const DEFAULTS: ResolvedHttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  writeTimeoutMs: 30_000,
  maxHeaderBytes: 16_384,
};

/** @internal Checks the limits where they enter (a zero timeout would mean "never" to node:http). */
export function resolveHttpLimits(limits: HttpLimits = {}): ResolvedHttpLimits {
  const resolved = { ...DEFAULTS, ...stripUndefined(limits) };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new InvalidArgumentError(`headersTimeoutMs (${resolved.headersTimeoutMs}) must not exceed requestTimeoutMs (${resolved.requestTimeoutMs})`);
  }
  return resolved;
}

function stripUndefined(limits: HttpLimits): HttpLimits {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/**
 * @internal A node:http server with the limits applied. node checks the header and request
 * timeouts only every `connectionsCheckingInterval` (30 s by default, which let slowloris clients
 * linger past a minute), so the interval follows the shortest timeout.
 */
export function httpServerFactory(limits: ResolvedHttpLimits) {
  return (handler: (request: IncomingMessage, response: ServerResponse) => void): Server => {
    const server = createHttpServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        // The Host check (allowedHosts) answers a missing Host with a coded error instead of node's bare 400.
        requireHostHeader: false,
      },
      handler,
    );
    // Without a listener node answers an `Expect` it does not know with a bare 417.
    server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.stringify(errorBody(new HttpError('EXPECTATION_FAILED', `unsupported Expect header ${JSON.stringify(request.headers.expect ?? '')}: only 100-continue is`)));
      response.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      response.end(body);
    });
    return server;
  };
}

/**
 * @internal Answers what node:http refuses before any route runs (a timeout, an oversized head,
 * malformed HTTP) with the same coded JSON body as every other error, then closes the connection.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, refusal] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, new HttpError('REQUEST_TIMEOUT', 'the request was not received in time')]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, new HttpError('HEADERS_TOO_LARGE', 'request headers too large')]
        : [400, new HttpError('MALFORMED_REQUEST', `malformed HTTP request (${error.code ?? 'parse error'})`)];
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(refusal));
  socket.end(
    `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    // A slow client may never close its side: once the answer is flushed, the socket goes.
    () => socket.destroy(),
  );
}
