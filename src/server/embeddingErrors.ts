import { ActorError, ErrorKind } from '../messaging/errors.js';

/** Codes of the `/v1/embeddings` route's own refusals. Never renamed once published. */
export const EmbeddingErrorCode = {
  UnsupportedDimensions: 'UNSUPPORTED_DIMENSIONS',
} as const;
export type EmbeddingErrorCode = (typeof EmbeddingErrorCode)[keyof typeof EmbeddingErrorCode];

/**
 * `/v1/embeddings` was asked for `dimensions` other than the model's embedding size: llama.cpp
 * models cannot shorten their vectors (that takes a model trained for it, like OpenAI's
 * `text-embedding-3-*`), and a silently truncated vector is not a smaller embedding. 400.
 */
export class UnsupportedDimensionsError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly requested: number,
    readonly embeddingSize: number,
  ) {
    super(
      EmbeddingErrorCode.UnsupportedDimensions,
      `dimensions ${requested} is not supported: this model's embeddings have ${embeddingSize} dimensions, and it cannot return fewer`,
    );
  }
}
