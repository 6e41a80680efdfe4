import type { FastifyReply } from 'fastify';
import { ActorError, ErrorKind } from '../messaging/errors.js';
import { RequestValidationError } from './schemas/validation.js';

/** @internal How the server answers one {@link ErrorKind}: its status and its OpenAI error `type`. */
export interface KindAnswer {
  status: number;
  type: 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'overloaded_error' | 'server_error';
}

/**
 * @internal The HTTP answer of each error kind. This is the server's whole status table: an error
 * answers by its `kind`, never by its code, so a new error class gets its status by declaring its
 * kind. Typed over every kind, so a new kind does not compile without an answer here.
 */
export const KIND_ANSWER: Readonly<Record<ErrorKind, KindAnswer>> = {
  [ErrorKind.Invalid]: { status: 400, type: 'invalid_request_error' },
  [ErrorKind.Unauthorized]: { status: 401, type: 'authentication_error' },
  [ErrorKind.Forbidden]: { status: 403, type: 'authentication_error' },
  [ErrorKind.NotFound]: { status: 404, type: 'not_found_error' },
  [ErrorKind.Conflict]: { status: 409, type: 'invalid_request_error' },
  [ErrorKind.PayloadTooLarge]: { status: 413, type: 'invalid_request_error' },
  // The server's wait ran out (TIMEOUT): a gateway timeout. A client too slow to send its request is a 408 HttpError.
  [ErrorKind.Timeout]: { status: 504, type: 'server_error' },
  // The caller aborted or the client went away: nginx's 499, which nobody reads; not logged as a failure.
  [ErrorKind.Cancelled]: { status: 499, type: 'server_error' },
  [ErrorKind.Overloaded]: { status: 503, type: 'overloaded_error' },
  [ErrorKind.Unavailable]: { status: 503, type: 'overloaded_error' },
  // A remote provider answered wrongly (refused this server's key): the operator's to fix, not the caller's.
  [ErrorKind.BadGateway]: { status: 502, type: 'server_error' },
  [ErrorKind.NotImplemented]: { status: 501, type: 'server_error' },
  [ErrorKind.Internal]: { status: 500, type: 'server_error' },
};

/** The kind of anything thrown: an {@link ActorError}'s own, `internal` for anything else (or a kind the server does not know). */
function kindOf(error: unknown): ErrorKind {
  return error instanceof ActorError && Object.hasOwn(KIND_ANSWER, error.kind) ? error.kind : ErrorKind.Internal;
}

/** @internal The status of a typed error, by its kind (an {@link HttpError} carries its exact 4xx); 500 for anything else. */
export function httpStatus(error: unknown): number {
  if (error instanceof HttpError && kindOf(error) !== ErrorKind.Internal) return error.status;
  return KIND_ANSWER[kindOf(error)].status;
}

/**
 * @internal The OpenAI error body (`{error: {message, type, code, param}}`) every route answers with;
 * `param` names the field of a request that did not match its route's schema, else null.
 */
export function errorBody(error: unknown): { error: { message: string; type: string; code: string; param: string | null } } {
  const code = error instanceof ActorError ? error.code : 'INTERNAL_ERROR';
  // Internal errors do not echo their message: it may carry paths or state the client has no business seeing.
  const message = error instanceof ActorError ? error.message : 'internal error';
  const param = error instanceof RequestValidationError && error.param !== '' ? error.param : null;
  return { error: { message, type: KIND_ANSWER[kindOf(error)].type, code, param } };
}

/** Codes of the refusals the HTTP layer makes itself, before (or instead of) any actor. */
export const HttpErrorCode = {
  MalformedRequest: 'MALFORMED_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  HostNotAllowed: 'HOST_NOT_ALLOWED',
  PathNotAllowed: 'PATH_NOT_ALLOWED',
  RouteNotFound: 'ROUTE_NOT_FOUND',
  RequestTimeout: 'REQUEST_TIMEOUT',
  BodyTooLarge: 'BODY_TOO_LARGE',
  UriTooLong: 'URI_TOO_LONG',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  ExpectationFailed: 'EXPECTATION_FAILED',
  HeadersTooLarge: 'HEADERS_TOO_LARGE',
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/**
 * The kind and exact status of each HTTP-layer refusal: HTTP has finer 4xx statuses than the kinds
 * (415, 417, 431: all `invalid`), and these answers are about HTTP itself, so they keep them.
 */
const HTTP_REFUSAL: Readonly<Record<HttpErrorCode, { kind: ErrorKind; status: number }>> = {
  [HttpErrorCode.MalformedRequest]: { kind: ErrorKind.Invalid, status: 400 },
  [HttpErrorCode.Unauthorized]: { kind: ErrorKind.Unauthorized, status: 401 },
  [HttpErrorCode.HostNotAllowed]: { kind: ErrorKind.Forbidden, status: 403 },
  [HttpErrorCode.PathNotAllowed]: { kind: ErrorKind.Forbidden, status: 403 },
  [HttpErrorCode.RouteNotFound]: { kind: ErrorKind.NotFound, status: 404 },
  // The client did not send its request in time: its doing, so `invalid`, not the server-side `timeout` (504).
  [HttpErrorCode.RequestTimeout]: { kind: ErrorKind.Invalid, status: 408 },
  [HttpErrorCode.BodyTooLarge]: { kind: ErrorKind.PayloadTooLarge, status: 413 },
  [HttpErrorCode.UriTooLong]: { kind: ErrorKind.Invalid, status: 414 },
  [HttpErrorCode.UnsupportedMediaType]: { kind: ErrorKind.Invalid, status: 415 },
  [HttpErrorCode.ExpectationFailed]: { kind: ErrorKind.Invalid, status: 417 },
  [HttpErrorCode.HeadersTooLarge]: { kind: ErrorKind.Invalid, status: 431 },
};

/** A request the server refuses before any actor sees it (bad key, forbidden path, unknown route). */
export class HttpError extends ActorError {
  /** Its kind, from its code. */
  override readonly kind: ErrorKind;
  /** Its exact HTTP status (within its kind's class: 415 and 431 are `invalid` like 400). */
  readonly status: number;

  constructor(code: HttpErrorCode, message: string) {
    super(code, message);
    const refusal = Object.hasOwn(HTTP_REFUSAL, code) ? HTTP_REFUSAL[code] : { kind: ErrorKind.Internal, status: 500 };
    this.kind = refusal.kind;
    this.status = refusal.status;
  }
}

/** @internal Sends a typed error as JSON with its status (503s, `overloaded` and `unavailable`, say when to retry). */
export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const status = httpStatus(error);
  if (status === 503) reply.header('retry-after', '1');
  return reply.status(status).send(errorBody(error));
}
