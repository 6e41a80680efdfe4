/**
 * The kernel's typed errors: one class per failure kind under {@link ActorError}, each with a
 * stable {@link ErrorCode}. Codes are part of the public contract (they travel in `error` stream
 * events and over HTTP); messages name the numbers involved so a log line is enough to act on.
 */

/**
 * What kind of failure an error is, for whoever answers it: the HTTP server maps an error to its
 * status and error `type` by its kind alone, so a new error class gets the right status by
 * declaring its kind (`override readonly kind = ErrorKind.NotFound`), with no table of codes to keep
 * in step. The status each kind gets over HTTP:
 *
 * | kind | status | meaning |
 * |---|---|---|
 * | `invalid` | 400 | the request is malformed or asks for something impossible |
 * | `unauthorized` | 401 | no or a wrong credential |
 * | `forbidden` | 403 | a credential is fine but this (path, host) is not allowed |
 * | `not_found` | 404 | the model, actor, session, file or training session named does not exist |
 * | `conflict` | 409 | the request clashes with the current state (id taken, training running) |
 * | `payload_too_large` | 413 | the request body is over the limit |
 * | `timeout` | 504 | the work did not finish within its timeout (the server's wait, not the client's send: that is a 408 `invalid`) |
 * | `cancelled` | 499 | the caller aborted, or the client went away (nginx's "client closed request"; nobody reads it) |
 * | `overloaded` | 503 + `Retry-After` | a bounded queue or mailbox is full: retry later |
 * | `unavailable` | 503 + `Retry-After` | the target is not serving now (loading, stopped, disposed): retry later |
 * | `not_implemented` | 501 | a valid request this backend cannot honour |
 * | `internal` | 500 | our own failure: llama.cpp, the store or the runtime broke; the caller can do nothing about it |
 *
 * Kinds are part of the public contract, like codes, and travel with the error (`kind` is an own
 * enumerable property, so `JSON.stringify` keeps it) so that an error rebuilt on the other side of a
 * process boundary (`new ActorError(code, message, {kind})`) answers the same.
 */
export const ErrorKind = {
  Invalid: 'invalid',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  Timeout: 'timeout',
  Cancelled: 'cancelled',
  Overloaded: 'overloaded',
  Unavailable: 'unavailable',
  /** An upstream this server depends on answered wrongly (a remote provider refused its credentials): a 502. */
  BadGateway: 'bad_gateway',
  NotImplemented: 'not_implemented',
  Internal: 'internal',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

const ERROR_KINDS: ReadonlySet<string> = new Set(Object.values(ErrorKind));

/** Whether `value` is one of {@link ErrorKind}'s values (for errors rebuilt from the wire). */
export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && ERROR_KINDS.has(value);
}

/** Stable machine-readable error codes. Never renamed once published. */
export const ErrorCode = {
  InvalidAddress: 'INVALID_ADDRESS',
  ActorNotFound: 'ACTOR_NOT_FOUND',
  ActorAlreadyRegistered: 'ACTOR_ALREADY_REGISTERED',
  StreamNotSupported: 'STREAM_NOT_SUPPORTED',
  MailboxFull: 'MAILBOX_FULL',
  Timeout: 'TIMEOUT',
  Aborted: 'ABORTED',
  ActorStopped: 'ACTOR_STOPPED',
  ActorFailed: 'ACTOR_FAILED',
  ConsumerFailed: 'CONSUMER_FAILED',
  StreamOverflow: 'STREAM_OVERFLOW',
  InvalidArgument: 'INVALID_ARGUMENT',
  Disposed: 'DISPOSED',
  UnsupportedMessage: 'UNSUPPORTED_MESSAGE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of every error the runtime raises on purpose. Actors may throw their own subclasses:
 * the router passes them through unchanged (code included) and, by default, does not restart the
 * actor for them, because a typed error is a deliberate answer, not a crash.
 */
export class ActorError extends Error {
  /** Stable machine-readable code, e.g. `MAILBOX_FULL`. */
  readonly code: string;
  /**
   * What kind of failure this is ({@link ErrorKind}); the HTTP status follows from it. Subclasses
   * declare theirs as a field; a plain `ActorError` is `internal` unless `options.kind` says
   * otherwise (an error rebuilt from a code and kind that crossed a process boundary).
   */
  readonly kind: ErrorKind;

  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(message, options); // Error reads only `cause` from it
    this.code = code;
    this.name = new.target.name;
    this.kind = options?.kind ?? ErrorKind.Internal;
  }
}

/** An address string is not `id` or `@(id)` with a valid id. */
export class InvalidAddressError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(readonly input: unknown, reason: string) {
    super(ErrorCode.InvalidAddress, `invalid address ${JSON.stringify(String(input))}: ${reason}`);
  }
}

/** No actor is registered under the address. */
export class ActorNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(readonly actorId: string) {
    super(ErrorCode.ActorNotFound, `no actor registered at @(${actorId})`);
  }
}

/** `registerActor` was called twice for one id. */
export class ActorAlreadyRegisteredError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(readonly actorId: string) {
    super(ErrorCode.ActorAlreadyRegistered, `an actor is already registered at @(${actorId})`);
  }
}

/** The target actor has no `stream()` method. */
export class StreamNotSupportedError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(readonly actorId: string) {
    super(ErrorCode.StreamNotSupported, `actor @(${actorId}) does not support streaming`);
  }
}

/** The actor's bounded mailbox has no room; the message was not accepted. */
export class MailboxFullError extends ActorError {
  override readonly kind = ErrorKind.Overloaded;

  constructor(
    readonly actorId: string,
    readonly waiting: number,
    readonly limit: number,
  ) {
    super(ErrorCode.MailboxFull, `mailbox full: ${waiting} waiting, limit ${limit} (actor @(${actorId}))`);
  }
}

/** The request did not complete within its timeout. */
export class TimeoutError extends ActorError {
  override readonly kind = ErrorKind.Timeout;

  constructor(
    readonly timeoutMs: number,
    what = 'request',
  ) {
    super(ErrorCode.Timeout, `${what} timed out after ${timeoutMs} ms`);
  }
}

/** The caller aborted the request (its `AbortSignal` fired, or `cancel()` was called). */
export class AbortedError extends ActorError {
  override readonly kind = ErrorKind.Cancelled;

  constructor(what = 'request', options?: { cause?: unknown }) {
    super(ErrorCode.Aborted, `${what} was aborted`, options);
  }
}

/** The actor was stopped (unregistered, or gave up after too many restarts). */
export class ActorStoppedError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  constructor(
    readonly actorId: string,
    reason: string,
  ) {
    super(ErrorCode.ActorStopped, `actor @(${actorId}) stopped: ${reason}`);
  }
}

/** The actor threw something that is not an {@link ActorError}; the original is the `cause`. */
export class ActorFailedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly actorId: string,
    cause: unknown,
  ) {
    super(ErrorCode.ActorFailed, `actor @(${actorId}) failed: ${describe(cause)}`, { cause });
  }
}

/** A stream consumer's callback threw; the stream was ended for that consumer's sake. */
export class ConsumerFailedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(cause: unknown) {
    super(ErrorCode.ConsumerFailed, `stream consumer threw: ${describe(cause)}`, { cause });
  }
}

/**
 * A producer kept pushing chunks without awaiting `onChunk` until the buffer passed its hard cap.
 * Backpressure only works for producers that await; this error keeps memory bounded for those
 * that do not.
 */
export class StreamOverflowError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly buffered: number,
    readonly limit: number,
  ) {
    super(
      ErrorCode.StreamOverflow,
      `stream buffer overflow: ${buffered} chunks buffered, limit ${limit} (the producer must await onChunk)`,
    );
  }
}

/** An option or argument is out of range or of the wrong type. */
export class InvalidArgumentError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
  }
}

/** The object was disposed and cannot be used any more. */
export class DisposedError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  constructor(what: string) {
    super(ErrorCode.Disposed, `${what} is disposed`);
  }
}

/** @internal Short human description of anything thrown. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}

/** @internal Wraps anything thrown by an actor so that callers always see an {@link ActorError}. */
export function toActorError(actorId: string, error: unknown): ActorError {
  return error instanceof ActorError ? error : new ActorFailedError(actorId, error);
}

/** An actor got a message type it does not handle. */
export class UnsupportedMessageError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly actorId: string,
    readonly messageType: string,
  ) {
    super(ErrorCode.UnsupportedMessage, `actor @(${actorId}) does not handle message type ${JSON.stringify(messageType)}`);
  }
}
