import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Stable codes of a session's own errors. */
export const SessionErrorCode = {
  ContextOverflow: 'CONTEXT_OVERFLOW',
  PromptNotFound: 'PROMPT_NOT_FOUND',
  SessionConflict: 'SESSION_CONFLICT',
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

/**
 * The session was changed in its store (by another front end sharing it) while a turn or reset of
 * this one ran, so that turn was not saved: the history holds the other change, not this one.
 * Sending the turn again runs it on the history as it is now. The store's conflict is the `cause`.
 */
export class SessionConflictError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly sessionId: string,
    /** The revision the turn started from. */
    readonly expected: number,
    /** The revision found when saving; undefined if the session was deleted meanwhile. */
    readonly actual: number | undefined,
    options?: { cause?: unknown },
  ) {
    const found = actual === undefined ? 'it was deleted' : `revision ${actual}`;
    super(
      SessionErrorCode.SessionConflict,
      `session ${sessionId} changed in the store while this turn ran (started at revision ${expected}, found ${found}): the turn was not saved; send it again`,
      options,
    );
  }
}
