import type OpenAI from 'openai';
import type { ModelInfo } from '../ModelActor/types.js';
import { callUpstream } from './callUpstream.js';
import { NotSupportedByProviderError, ProviderRejectedError, RemoteModelNotFoundError, type UpstreamOrigin } from './remoteErrors.js';

/** @internal What describing and tokenizing on a remote needs. */
export interface RemoteCallContext {
  client: OpenAI;
  origin: UpstreamOrigin;
  timeoutMs: number;
  /** Slots reported in the info: the model's `maxConcurrent`. */
  slots: number;
  vision: boolean;
  contextSize: number | undefined;
}

const DEFAULT_CONTEXT = 4096;

/**
 * @internal The remote model's info, in a local model's shape: what the remote says of it
 * (`GET /models`: vLLM's `max_model_len`, llama-server's `meta`, `context_length`; llama-server's
 * `GET /props` for the context each of its slots has), the rest left at zero: the weights are not
 * here. `engine` is `remote`; `remote` says where.
 */
export async function remoteInfo(context: RemoteCallContext, signal: AbortSignal): Promise<ModelInfo> {
  const listing = await call(context, signal, () => context.client.get<{ data?: Array<Record<string, unknown>> }>('/models', options(context, signal)));
  const entries = Array.isArray(listing.data) ? listing.data : [];
  const entry = entries.find((e) => e.id === context.origin.model) ?? (entries.length === 1 ? entries[0] : undefined);
  const meta = entry && typeof entry.meta === 'object' && entry.meta !== null ? (entry.meta as Record<string, unknown>) : {};
  const props = await serverProps(context, signal);
  const trainContext = numberOf(meta.n_ctx_train) ?? numberOf(entry?.max_model_len) ?? numberOf(entry?.context_length);
  const contextSize = context.contextSize ?? props ?? trainContext ?? DEFAULT_CONTEXT;
  return {
    path: `${context.origin.baseURL}#${context.origin.model}`,
    architecture: undefined,
    name: context.origin.model,
    contextSize,
    trainContextSize: trainContext ?? contextSize,
    vocabularySize: numberOf(meta.n_vocab) ?? 0,
    embeddingSize: numberOf(meta.n_embd) ?? 0,
    sizeBytes: numberOf(meta.size) ?? 0,
    parameters: numberOf(meta.n_params),
    gpu: false,
    gpuLayers: 0,
    threads: 0,
    slots: context.slots,
    batchSize: 0,
    localBuild: false,
    engine: 'remote',
    chatTemplate: '',
    remote: { baseURL: context.origin.baseURL, model: context.origin.model, vision: context.vision },
  };
}

/** llama-server's per-slot context (`GET /props`, beside `/v1`); undefined on remotes without it. */
async function serverProps(context: RemoteCallContext, signal: AbortSignal): Promise<number | undefined> {
  try {
    const props = await call(context, signal, () =>
      context.client.get<{ default_generation_settings?: { n_ctx?: unknown } }>(`${rootOf(context.origin.baseURL)}/props`, options(context, signal)),
    );
    return numberOf(props.default_generation_settings?.n_ctx);
  } catch {
    return undefined;
  }
}

/**
 * Tokenizes on the remote: llama-server's `POST /tokenize {content}` and vLLM's `POST /tokenize
 * {model, prompt}` (both beside `/v1`). A remote without the route is `NOT_SUPPORTED_BY_PROVIDER`.
 */
export async function remoteTokenize(context: RemoteCallContext, text: string, signal: AbortSignal): Promise<{ tokens: number[] }> {
  const reply = await call(context, signal, () =>
    context.client.post<{ tokens?: unknown }>(`${rootOf(context.origin.baseURL)}/tokenize`, {
      ...options(context, signal),
      body: { model: context.origin.model, content: text, prompt: text, add_special: true },
    }),
  ).catch(notSupported('tokenize', context));
  const tokens = Array.isArray(reply.tokens) ? reply.tokens.map((t: unknown) => (typeof t === 'number' ? t : Number((t as { id?: unknown }).id))) : [];
  return { tokens };
}

/** Detokenizes on the remote (`POST /detokenize {tokens}`: `content` from llama-server, `prompt` from vLLM). */
export async function remoteDetokenize(context: RemoteCallContext, tokens: number[], signal: AbortSignal): Promise<{ text: string }> {
  const reply = await call(context, signal, () =>
    context.client.post<{ content?: unknown; prompt?: unknown }>(`${rootOf(context.origin.baseURL)}/detokenize`, {
      ...options(context, signal),
      body: { model: context.origin.model, tokens },
    }),
  ).catch(notSupported('detokenize', context));
  const text = typeof reply.content === 'string' ? reply.content : typeof reply.prompt === 'string' ? reply.prompt : '';
  return { text };
}

/** A remote without the route answers 404 (or 400/405): that is NOT_SUPPORTED_BY_PROVIDER, not a missing model. */
function notSupported(feature: string, context: RemoteCallContext) {
  return (error: unknown): never => {
    if (error instanceof RemoteModelNotFoundError || error instanceof ProviderRejectedError) {
      throw new NotSupportedByProviderError(feature, 'openai-compatible', `${rootOf(context.origin.baseURL)} has no /${feature} route (${error.message})`);
    }
    throw error;
  };
}

/** The server root of an API base URL: `http://h:8080/v1` → `http://h:8080` (absolute, so the client does not prefix it). */
export function rootOf(baseURL: string): string {
  return baseURL.replace(/\/+$/, '').replace(/\/v\d+$/, '');
}

function options(context: RemoteCallContext, signal: AbortSignal) {
  return { signal, timeout: context.timeoutMs, maxRetries: 0 };
}

function call<T>(context: RemoteCallContext, signal: AbortSignal, run: () => PromiseLike<T>): Promise<T> {
  return callUpstream({ origin: context.origin, signal, timeoutMs: context.timeoutMs }, run);
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
