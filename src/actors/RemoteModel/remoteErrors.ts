import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Stable codes of a remote provider's errors. */
export const RemoteErrorCode = {
  ProviderAuthFailed: 'PROVIDER_AUTH_FAILED',
  ModelNotFound: 'MODEL_NOT_FOUND',
  RateLimited: 'RATE_LIMITED',
  ProviderUnavailable: 'PROVIDER_UNAVAILABLE',
  ProviderTimeout: 'PROVIDER_TIMEOUT',
  ProviderRejected: 'PROVIDER_REJECTED',
  NotSupportedByProvider: 'NOT_SUPPORTED_BY_PROVIDER',
  ProviderKeyMissing: 'PROVIDER_KEY_MISSING',
} as const;
export type RemoteErrorCode = (typeof RemoteErrorCode)[keyof typeof RemoteErrorCode];

/** Where an upstream answer came from, for the messages: `http://host:8080/v1 (model qwen)`. */
export interface UpstreamOrigin {
  baseURL: string;
  model: string;
}

function where(origin: UpstreamOrigin): string {
  return `${origin.baseURL} (model ${origin.model})`;
}

/**
 * The remote refused this server's credentials (401 / 403). A 502: the caller cannot fix it, the
 * operator's key (its environment variable) is wrong.
 */
export class ProviderAuthFailedError extends ActorError {
  override readonly kind = ErrorKind.BadGateway;

  constructor(
    readonly origin: UpstreamOrigin,
    readonly upstreamStatus: number,
    upstreamMessage: string,
  ) {
    super(RemoteErrorCode.ProviderAuthFailed, `provider ${where(origin)} refused the credentials: ${upstreamStatus} ${upstreamMessage}`);
  }
}

/** The remote has no model of that name (404). */
export class RemoteModelNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(
    readonly origin: UpstreamOrigin,
    upstreamMessage: string,
  ) {
    super(RemoteErrorCode.ModelNotFound, `provider ${origin.baseURL} has no model ${origin.model}: 404 ${upstreamMessage}`);
  }
}

/**
 * The remote kept answering 429 through every retry, or asked for a wait longer than this server
 * waits. `retryAfterMs` is the remote's own `Retry-After`, when it gave one.
 */
export class RateLimitedError extends ActorError {
  override readonly kind = ErrorKind.Overloaded;

  constructor(
    readonly origin: UpstreamOrigin,
    readonly attempts: number,
    readonly retryAfterMs: number | undefined,
    upstreamMessage: string,
  ) {
    const after = retryAfterMs === undefined ? 'no Retry-After' : `Retry-After ${Math.ceil(retryAfterMs / 1000)} s`;
    super(RemoteErrorCode.RateLimited, `provider ${where(origin)} rate-limited the request after ${attempts} attempt${attempts === 1 ? '' : 's'} (${after}): ${upstreamMessage}`);
  }
}

/** The remote failed (5xx), could not be reached, or broke off mid-stream. */
export class ProviderUnavailableError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  constructor(
    readonly origin: UpstreamOrigin,
    /** The upstream HTTP status, undefined when no answer came (refused, reset, DNS). */
    readonly upstreamStatus: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      RemoteErrorCode.ProviderUnavailable,
      `provider ${where(origin)} unavailable: ${upstreamStatus === undefined ? '' : `${upstreamStatus} `}${detail}`,
      options,
    );
  }
}

/** The remote did not answer within the configured time, or went silent that long mid-stream. */
export class ProviderTimeoutError extends ActorError {
  override readonly kind = ErrorKind.Timeout;

  constructor(
    readonly origin: UpstreamOrigin,
    readonly timeoutMs: number,
    /** Whether it had started streaming (and then sent nothing for `timeoutMs`). */
    readonly midStream = false,
  ) {
    super(
      RemoteErrorCode.ProviderTimeout,
      midStream ? `provider ${where(origin)} sent nothing for ${timeoutMs} ms mid-stream` : `provider ${where(origin)} did not answer within ${timeoutMs} ms`,
    );
  }
}

/**
 * The remote refused the request as malformed (400 / 422, other 4xx): the request asked for
 * something the remote does not accept. Its status and message are kept.
 */
export class ProviderRejectedError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly origin: UpstreamOrigin,
    readonly upstreamStatus: number,
    upstreamMessage: string,
  ) {
    super(RemoteErrorCode.ProviderRejected, `provider ${where(origin)} refused the request: ${upstreamStatus} ${upstreamMessage}`);
  }
}

/**
 * A model message a remote provider has no equivalent for (scoring, LoRA adapters, chat
 * tokenization): refused, never faked.
 */
export class NotSupportedByProviderError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly feature: string,
    readonly providerKind: string,
    detail: string,
  ) {
    super(RemoteErrorCode.NotSupportedByProvider, `${feature} is not supported by ${providerKind} providers: ${detail}`);
  }
}

/** The provider names an environment variable for its API key that is not set in this process. */
export class ProviderKeyMissingError extends ActorError {
  override readonly kind = ErrorKind.BadGateway;

  constructor(
    readonly provider: string,
    readonly variable: string,
  ) {
    super(RemoteErrorCode.ProviderKeyMissing, `provider @(${provider}) reads its API key from $${variable}, which is not set`);
  }
}
