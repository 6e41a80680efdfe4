import type { Logger } from 'pino';
import type { Clock } from '../../messaging/Clock.js';
import type { GenerationParams } from '../ModelActor/types.js';

/** Options of a {@link RemoteModelActor}: one model on an OpenAI-compatible server. */
export interface RemoteModelOptions {
  /** The remote's API root, e.g. `http://gpu-box:8000/v1` (vLLM), `http://127.0.0.1:8080/v1` (llama-server). */
  baseURL: string;
  /** The model's name on the remote (what its `/models` lists). */
  model: string;
  /** The API key, sent as `Authorization: Bearer …`. Defaults to none. */
  apiKey?: string;
  /** Extra headers sent with every request (an organisation, a gateway's routing key). Defaults to none. */
  headers?: Record<string, string>;
  /**
   * Requests in flight upstream at once; more wait in the queue. Defaults to `4`. Set it to the
   * remote's own parallelism (llama-server's `-np`, vLLM's batch) or its rate limit.
   */
  maxConcurrent?: number;
  /** Requests that may wait for a place; one more is `QUEUE_FULL` at once. Defaults to `64`. */
  maxQueue?: number;
  /** Whether the remote model takes images (a vision model). Defaults to `false`: image parts are `MODALITY_NOT_SUPPORTED`. */
  vision?: boolean;
  /**
   * The remote model's context size in tokens (sessions keep their history within it). Defaults to
   * what the remote's `/models` entry says (`max_model_len`, `meta.n_ctx_train`, `context_length`),
   * else `4096`.
   */
  contextSize?: number;
  /**
   * How long the remote may take to start answering a request, and the longest it may then go
   * without sending a chunk mid-stream, in ms (`PROVIDER_TIMEOUT`). Defaults to `600_000`.
   */
  timeoutMs?: number;
  /**
   * Retries of a request the remote refused with 429 or 502/503, or could not be reached for, before
   * any token streamed (a stream that broke off is never retried: its text was delivered). A first try
   * that got no answer at all is tried once more at once besides: most often a kept-alive connection
   * the remote had closed. Defaults to `2`.
   */
  maxRetries?: number;
  /**
   * The longest wait between two tries, in ms: a `Retry-After` longer than this fails at once with
   * `RATE_LIMITED` naming it, rather than hold the caller. Defaults to `10_000`.
   */
  maxRetryDelayMs?: number;
  /** Parameters a request that names none gets. Defaults to none (the remote's own defaults). */
  defaultParams?: GenerationParams;
  /** Defaults to the router's logger. */
  logger?: Logger;
  /** The clock of the retry waits and of tokens/s. Defaults to the system clock. */
  clock?: Clock;
}

/** What `status` reports of a remote model, beside the slot-like counts (busySlots = requests in flight upstream). */
export interface RemoteModelStatus {
  baseURL: string;
  model: string;
  inFlight: number;
  queued: number;
  maxConcurrent: number;
  /** Upstream requests made, retries included. */
  requests: number;
  /** Tries repeated after a 429, 502/503 or no answer. */
  retries: number;
  /** Requests that ended with an upstream error (aborts not counted). */
  failures: number;
  /** The last upstream error's code and message. */
  lastError?: { code: string; message: string; at: number };
}
