import { AbortedError, InvalidArgumentError } from '../../messaging/errors.js';
import type { LoadedModel } from './LoadedModel.js';
import { PromptTooLongError } from './modelErrors.js';
import type { EmbedRequest, EmbedResult } from './types.js';

/** Embedding inputs beyond this many tokens are refused: the embedding context is this long at most. */
const MAX_EMBEDDING_CONTEXT = 2048;

/**
 * @internal Embedding vectors for one or several texts, one after another on the model's embedding
 * context (created on first use, on node-llama-cpp's model with weights). An abort stops between
 * texts.
 */
export async function embedTexts(loaded: LoadedModel, request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult> {
  const input = request?.input;
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new InvalidArgumentError('embed needs { input: string | string[] } of non-empty strings');
  }
  const embeddingContextSize = Math.min(loaded.info.contextSize, MAX_EMBEDDING_CONTEXT);
  loaded.embeddingContext ??= loaded.weights().then((model) =>
    model.createEmbeddingContext({ contextSize: embeddingContextSize, threads: loaded.info.threads }),
  );
  const context = await loaded.embeddingContext;
  const embeddings: number[][] = [];
  let promptTokens = 0;
  for (const text of texts) {
    if (signal.aborted) throw new AbortedError('embed', { cause: signal.reason });
    const tokens = loaded.model.tokenize(text);
    if (tokens.length > embeddingContextSize) throw new PromptTooLongError(tokens.length, embeddingContextSize);
    promptTokens += tokens.length;
    embeddings.push([...(await context.getEmbeddingFor(tokens)).vector]);
  }
  return { embeddings, dimensions: embeddings[0]?.length ?? 0, promptTokens };
}
