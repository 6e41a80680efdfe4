import type { FastifyReply } from 'fastify';
import { ActorError, ErrorCode } from '../messaging/errors.js';

/** @internal HTTP status for each stable error code; anything unknown is a 500. */
const STATUS: Record<string, number> = {
  [ErrorCode.InvalidAddress]: 400,
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.UnsupportedMessage]: 400,
  [ErrorCode.StreamNotSupported]: 400,
  INVALID_PARAMETER: 400,
  EMPTY_PROMPT: 400,
  PROMPT_TOO_LONG: 400,
  CONTEXT_OVERFLOW: 400,
  INVALID_ENTITY: 400,
  INVALID_STORE_KEY: 400,
  NOT_AN_ADAPTER: 400,
  INCOMPATIBLE_ADAPTER: 400,
  ADAPTER_LOAD_FAILED: 400,
  INVALID_TRAINING_DATA: 400,
  INVALID_LORA_RANK: 400,
  INVALID_LEARNING_RATE: 400,
  INVALID_EPOCHS: 400,
  INVALID_BATCH_SIZE: 400,
  INVALID_TRAINING_CONFIG: 400,
  INVALID_MODEL_FILE: 400,
  MALFORMED_REQUEST: 400,
  QUANTIZED_BASE_MODEL: 400,
  NOT_ENOUGH_TOKENS: 400,
  HOST_NOT_ALLOWED: 403,
  MODEL_FILE_NOT_FOUND: 404,
  TRAINING_SESSION_NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  MODEL_LOAD_CRASHED: 409,
  TRAINING_IN_PROGRESS: 409,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  URI_TOO_LONG: 414,
  EMBEDDINGS_DISABLED: 400,
  NO_TRAINABLE_TENSORS: 400,
  INVALID_TRAINING_JOB: 400,
  PROVIDER_UNSUPPORTED: 400,
  TOKEN_OUT_OF_VOCABULARY: 400,
  ACTOR_ALREADY_REGISTERED: 409,
  TRAINER_BUSY: 409,
  TRAINING_STOPPED: 409,
  NOT_SUPPORTED_BY_BACKEND: 501,
  ACTOR_STOPPED: 503,
  DISPOSED: 503,
  PATH_NOT_ALLOWED: 403,
  ADAPTER_FILE_NOT_FOUND: 404,
  ADAPTER_NOT_APPLIED: 404,
  UNAUTHORIZED: 401,
  [ErrorCode.ActorNotFound]: 404,
  ENTITY_NOT_FOUND: 404,
  PROMPT_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  ENTITY_EXISTS: 409,
  BODY_TOO_LARGE: 413,
  [ErrorCode.Aborted]: 499,
  [ErrorCode.MailboxFull]: 503,
  QUEUE_FULL: 503,
  ADAPTER_CONTEXTS_FULL: 503,
  MODEL_NOT_READY: 503,
  [ErrorCode.Timeout]: 504,
};

/** @internal The status of a typed error; 500 for anything else. */
export function httpStatus(error: unknown): number {
  return error instanceof ActorError ? (STATUS[error.code] ?? 500) : 500;
}

/** @internal The OpenAI error body (`{error: {message, type, code, param}}`) every route answers with. */
export function errorBody(error: unknown): { error: { message: string; type: string; code: string; param: null } } {
  const status = httpStatus(error);
  const code = error instanceof ActorError ? error.code : 'INTERNAL_ERROR';
  // Internal errors do not echo their message: it may carry paths or state the client has no business seeing.
  const message = error instanceof ActorError ? error.message : 'internal error';
  const type =
    status === 400 || status === 408 || status === 409 || status === 413 || status === 414 || status === 415 || status === 417 || status === 431
      ? 'invalid_request_error'
      : status === 401 || status === 403
        ? 'authentication_error'
        : status === 404
          ? 'not_found_error'
          : status === 503
            ? 'overloaded_error'
            : 'server_error';
  return { error: { message, type, code, param: null } };
}

/** A request the server refuses before any actor sees it (bad key, forbidden path, unknown route). */
export class HttpError extends ActorError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** @internal Sends a typed error as JSON with its status (503s say when to retry). */
export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const status = httpStatus(error);
  if (status === 503) reply.header('retry-after', '1');
  return reply.status(status).send(errorBody(error));
}
