import type { FastifyReply, FastifyRequest } from 'fastify';
import { ActorError } from '../messaging/errors.js';
import { httpStatus } from './httpErrors.js';

/**
 * @internal An error as Ollama answers it: `{error: "message"}` with the status of the error's kind
 * (the server's one status table, {@link httpStatus}). Internal errors do not echo their message.
 */
export function sendOllamaError(reply: FastifyReply, error: unknown): FastifyReply {
  const status = httpStatus(error);
  if (status === 503) reply.header('retry-after', '1');
  const message = error instanceof ActorError ? error.message : 'internal error';
  return reply.status(status).send({ error: message });
}

/** @internal Wraps an Ollama route handler so its errors answer in Ollama's shape (500s still reach the server's log). */
export function ollamaHandler(handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      return await handler(request, reply);
    } catch (error) {
      if (reply.sent) throw error;
      if (httpStatus(error) === 500) request.log.error({ err: error }, 'request failed');
      return sendOllamaError(reply, error);
    }
  };
}

/**
 * @internal The Ollama routes' error handler, for what fails before the handler runs: a body that
 * does not match the route's schema (a typed 400) answers in Ollama's `{error}` shape; anything
 * else (fastify's own refusals: bad JSON, a body too large) goes on to the server's handler.
 */
export function ollamaErrorHandler(error: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!(error instanceof ActorError)) throw error;
  if (httpStatus(error) === 500) request.log.error({ err: error }, 'request failed');
  return sendOllamaError(reply, error);
}
