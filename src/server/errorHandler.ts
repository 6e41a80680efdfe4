import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ActorError, InvalidArgumentError } from '../messaging/errors.js';
import { HttpError, httpStatus, sendError } from './httpErrors.js';

/**
 * @internal The server's error handler: typed errors answer with their status and code; fastify's
 * own refusals (bad JSON, a body too large, a content type it cannot parse) become typed 4xx
 * answers in the same shape; anything else is a logged 500 that does not echo its message.
 */
export function errorHandler(bodyLimit: number, logger: Logger) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const fastifyError = error as { code?: string; statusCode?: number; message: string };
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new HttpError('BODY_TOO_LARGE', `request body too large: limit ${bodyLimit} bytes`));
    }
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = JSON.stringify(request.headers['content-type'] ?? '');
      return sendError(reply, new HttpError('UNSUPPORTED_MEDIA_TYPE', `unsupported content type ${type}: send application/json`));
    }
    const fastifyRefusal = fastifyError.code?.startsWith('FST_ERR') && (fastifyError.statusCode ?? 500) < 500;
    if (!(error instanceof ActorError) && (fastifyRefusal || fastifyError.statusCode === 400)) {
      return sendError(reply, new InvalidArgumentError(`bad request body: ${fastifyError.message}`));
    }
    if (httpStatus(error) === 500) logger.error({ err: error }, 'request failed');
    return sendError(reply, error);
  };
}
