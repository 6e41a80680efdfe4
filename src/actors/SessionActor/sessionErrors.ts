import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Stable codes of a session's own errors. */
export const SessionErrorCode = {
  ContextOverflow: 'CONTEXT_OVERFLOW',
  PromptNotFound: 'PROMPT_NOT_FOUND',
} as const;

/** The conversation does not fit in the context and the session's overflow policy is `error`. */
export class ContextOverflowError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly promptTokens: number,
    readonly contextSize: number,
    detail: string,
  ) {
    super(SessionErrorCode.ContextOverflow, `context overflow: ${promptTokens} tokens, context ${contextSize} (${detail})`);
  }
}

/** `waitForCompletion` was asked about a prompt id this session never had. */
export class PromptNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(readonly promptId: string) {
    super(SessionErrorCode.PromptNotFound, `no prompt with id ${JSON.stringify(promptId)} in this session`);
  }
}
