import OpenAI from 'openai';
import { AbortedError, ActorError } from '../../messaging/errors.js';
import { ModalityNotSupportedError, PromptTooLongError } from '../ModelActor/modelErrors.js';
import {
  ProviderAuthFailedError,
  ProviderRejectedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  RateLimitedError,
  RemoteModelNotFoundError,
  type UpstreamOrigin,
} from './remoteErrors.js';

/** What an upstream failure means for a retry: whether to try again, and after how long the remote asked. */
export interface UpstreamFailure {
  error: ActorError;
  /** A 429, a 503 or no answer at all, before anything streamed: worth another try. */
  retryable: boolean;
  /** The remote's `Retry-After` (or `retry-after-ms`), in ms. */
  retryAfterMs: number | undefined;
  /**
   * No answer at all: most often a kept-alive connection the remote had closed while it idled
   * (llama-server closes them after 5 s), so the first retry goes at once, on a new connection.
   */
  noAnswer?: boolean;
}

/**
 * @internal Turns whatever the `openai` client threw into the runtime's typed errors, with the
 * upstream status and message: 401/403 → PROVIDER_AUTH_FAILED, 404 → MODEL_NOT_FOUND, 429 →
 * RATE_LIMITED, 5xx and no answer → PROVIDER_UNAVAILABLE, a context overflow → PROMPT_TOO_LONG (so
 * that a session shifts its history as it does on a local model), an image the remote model cannot
 * see → MODALITY_NOT_SUPPORTED, other 4xx → PROVIDER_REJECTED.
 */
export function upstreamFailure(
  thrown: unknown,
  origin: UpstreamOrigin,
  context: { signal: AbortSignal; timeoutMs: number; attempts: number; /** The model's id here, for messages. Defaults to its remote name. */ name?: string },
): UpstreamFailure {
  const none = { retryable: false, retryAfterMs: undefined };
  if (thrown instanceof ActorError) return { error: thrown, ...none };
  if (context.signal.aborted || thrown instanceof OpenAI.APIUserAbortError) {
    const reason: unknown = context.signal.reason;
    return { error: reason instanceof ActorError ? reason : new AbortedError('remote generation', { cause: reason }), ...none };
  }
  if (thrown instanceof OpenAI.APIConnectionTimeoutError) return { error: new ProviderTimeoutError(origin, context.timeoutMs), ...none };
  if (thrown instanceof OpenAI.APIConnectionError) {
    return { error: new ProviderUnavailableError(origin, undefined, causeText(thrown), { cause: thrown }), retryable: true, retryAfterMs: undefined, noAnswer: true };
  }
  if (!(thrown instanceof OpenAI.APIError) || thrown.status === undefined) {
    // Broken off mid-stream (a reset socket, a truncated SSE body): no status to read.
    return { error: new ProviderUnavailableError(origin, undefined, causeText(thrown), { cause: thrown }), ...none };
  }
  const status = thrown.status;
  const message = upstreamMessage(thrown);
  const retryAfterMs = retryAfter(thrown.headers);
  if (status === 401 || status === 403) return { error: new ProviderAuthFailedError(origin, status, message), ...none };
  if (status === 404) return { error: new RemoteModelNotFoundError(origin, message), ...none };
  // llama-server without a projector: 500 "image input is not supported"; vLLM / others: a 400 naming images.
  if (/image input is not supported|does not support (image|vision|multimodal)|not a multimodal model/i.test(message)) {
    return { error: new ModalityNotSupportedError(context.name ?? origin.model, 'image', `the remote ${origin.baseURL}`, `the remote refused it: ${status} ${message}`), ...none };
  }
  if (status === 429) return { error: new RateLimitedError(origin, context.attempts, retryAfterMs, message), retryable: true, retryAfterMs };
  if (status >= 500) return { error: new ProviderUnavailableError(origin, status, message), retryable: status === 502 || status === 503, retryAfterMs };
  const overflow = contextOverflow(thrown);
  if (overflow) return { error: overflow, ...none };
  return { error: new ProviderRejectedError(origin, status, message), ...none };
}

/** The upstream's own message: the error body's `message`, else the client's text. */
function upstreamMessage(error: InstanceType<typeof OpenAI.APIError>): string {
  const body: unknown = error.error;
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return error.message;
}

function causeText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    parts.push(code ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.join(': ') || String(error);
}

/** `retry-after-ms`, else `Retry-After` in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/**
 * A remote's "the prompt does not fit" as PROMPT_TOO_LONG with its numbers when it gives them:
 * llama-server (`exceed_context_size_error`, `n_prompt_tokens`, `n_ctx`), this runtime's own server
 * (`PROMPT_TOO_LONG`) and vLLM ("maximum context length is N tokens ... M tokens").
 */
function contextOverflow(error: InstanceType<typeof OpenAI.APIError>): PromptTooLongError | undefined {
  const body: Record<string, unknown> = error.error && typeof error.error === 'object' ? { ...error.error } : {};
  const message = upstreamMessage(error);
  const number = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  if (body.type === 'exceed_context_size_error' || body.code === 'PROMPT_TOO_LONG' || /context (length|size|window)/i.test(message)) {
    const vllm = /maximum context length is (\d+) tokens.*?(\d+) tokens/is.exec(message);
    const ours = /(\d+) tokens, context (\d+)/.exec(message);
    const prompt = number(body.n_prompt_tokens) ?? Number(vllm?.[2] ?? ours?.[1] ?? 0);
    const size = number(body.n_ctx) ?? Number(vllm?.[1] ?? ours?.[2] ?? 0);
    return new PromptTooLongError(prompt, size);
  }
  return undefined;
}
