import type { FastifyError, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { ActorError, InvalidArgumentError } from '../messaging/errors.js';
import { HttpError, httpStatus } from './httpErrors.js';

/** @internal The Anthropic error `type` of each status this server answers with. */
export function anthropicErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503 || status === 529) return 'overloaded_error';
  if (status >= 400 && status < 500 && status !== 499) return 'invalid_request_error';
  return 'api_error';
}

/** @internal Anthropic's error body, `{type: 'error', error: {type, message}}`, plus this server's `code`. */
export function anthropicErrorBody(error: unknown): { type: 'error'; error: { type: string; message: string; code: string } } {
  // Internal errors do not echo their message: it may carry paths or state the client has no business seeing.
  const typed = error instanceof ActorError;
  return {
    type: 'error',
    error: { type: anthropicErrorType(httpStatus(error)), message: typed ? error.message : 'internal error', code: typed ? error.code : 'INTERNAL_ERROR' },
  };
}

/** Fastify's own refusals (bad JSON, a body too large) as typed errors, as the server's global handler reads them. */
function typedError(error: FastifyError | Error): unknown {
  if (error instanceof ActorError) return error;
  const fastifyError = error as { code?: string; statusCode?: number; message: string };
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new HttpError('BODY_TOO_LARGE', 'request body too large');
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new HttpError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content type: send application/json');
  const refusal = fastifyError.code?.startsWith('FST_ERR') && (fastifyError.statusCode ?? 500) < 500;
  if (refusal || fastifyError.statusCode === 400) return new InvalidArgumentError(`bad request body: ${fastifyError.message}`);
  return error;
}

/**
 * @internal The Anthropic routes' error handler: a typed error answers with its kind's status (as
 * everywhere on this server) in Anthropic's error shape, which the `@anthropic-ai/sdk` reads into
 * its typed exceptions. 503s say when to retry.
 */
export function anthropicErrorHandler(logger: Logger) {
  return (error: FastifyError | Error, _request: unknown, reply: FastifyReply): FastifyReply => {
    const typed = typedError(error);
    const status = httpStatus(typed);
    if (status === 500) logger.error({ err: error }, 'request failed');
    if (status === 503) reply.header('retry-after', '1');
    return reply.status(status).send(anthropicErrorBody(typed));
  };
}
