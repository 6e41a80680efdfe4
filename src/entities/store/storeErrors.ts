/**
 * Typed errors of the durable {@link Store}: each has a stable code, like the kernel's errors,
 * and a message that names the key, file or path involved so a log line is enough to act on.
 */
import { ActorError, describe, ErrorKind } from '../../messaging/errors.js';

/** Stable machine-readable codes of the store's errors. Never renamed once published. */
export const StoreErrorCode = {
  InvalidStoreKey: 'INVALID_STORE_KEY',
  StoreCorrupt: 'STORE_CORRUPT',
  StoreDisposed: 'STORE_DISPOSED',
  StoreWriteFailed: 'STORE_WRITE_FAILED',
  StoreIo: 'STORE_IO_ERROR',
  StoreConflict: 'STORE_CONFLICT',
  StoreUnavailable: 'STORE_UNAVAILABLE',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** The store call that failed; `open` is the first-use set-up every call waits for. */
export type StoreOperation = 'open' | 'get' | 'put' | 'update' | 'delete' | 'list';

/** Which call failed and on which key, as the store's errors name it. */
export interface StoreCallSite {
  operation: StoreOperation;
  /** Absent for `open`. */
  collection?: string;
  /** Absent for `open` and `list`. */
  id?: string;
}

/** What a file-system error means for the store: the path at fault and what is wrong with it. */
export interface StoreFsProblem {
  /** The path at fault: for ENOTDIR the ancestor that is not a directory, not the path asked for. */
  path: string;
  /** The errno code (`EISDIR`, `ENOTDIR`, ...), or undefined where there is none (a FIFO where a value should be). */
  code: string | undefined;
  /** A phrase naming `path`, e.g. `/data/sessions is not a directory`. */
  text: string;
}

/** Which part of a store key was refused. */
export type StoreKeyPart = 'collection' | 'id';

/** Which key rule failed, for callers that branch on it rather than on the message. */
export type StoreKeyRule = 'type' | 'length' | 'characters' | 'dot-dot' | 'leading-dot';

/**
 * A collection or id breaks the key rules: 1–128 characters of `[A-Za-z0-9._:-]`, no `..`, not
 * starting with `.`. The rules exist because keys become file names: they keep every key inside
 * its directory and keep them apart from the store's own hidden temporary files.
 */
export class InvalidStoreKeyError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly part: StoreKeyPart,
    readonly key: unknown,
    readonly rule: StoreKeyRule,
    reason: string,
  ) {
    super(StoreErrorCode.InvalidStoreKey, `invalid store ${part} ${showKey(key)}: ${reason}`);
  }
}

/**
 * A stored value exists but does not hold valid JSON; the parse error is the `cause`. `file` is
 * where it lies: a path for `FileStore`, `nats-kv://<bucket>/<key>` for `NatsKvStore` (whose
 * message then says `entry` rather than `file`).
 */
export class StoreCorruptError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const noun = file.startsWith('nats-kv://') ? 'entry' : 'file';
    super(StoreErrorCode.StoreCorrupt, `corrupt store ${noun} ${file}: ${describe(cause)}`, { cause });
  }
}

/**
 * A conditional write (`Store.update`) found the value at another revision than the caller
 * expected: someone else wrote it since the caller read it. Nothing was written. Read it again
 * (`getEntry`) and decide. `actual` is undefined when the value no longer exists; an `expected` of
 * `0` meant "only if there is none".
 */
export class StoreConflictError extends ActorError {
  override readonly kind = ErrorKind.Conflict;

  constructor(
    readonly collection: string,
    readonly id: string,
    readonly expected: number,
    readonly actual: number | undefined,
  ) {
    const want = expected === 0 ? 'no value' : `revision ${expected}`;
    const found = actual === undefined ? 'no value' : `revision ${actual}`;
    super(StoreErrorCode.StoreConflict, `store update ${collection}/${id}: expected ${want}, found ${found}`);
  }
}

/**
 * The store's server did not answer: the connection is closed, or the server gave no answer
 * within the store's timeout (it is down, unreachable or the client is reconnecting). Retry
 * later. For a write that timed out, whether it was applied is unknown: the message says so.
 */
export class StoreUnavailableError extends ActorError {
  override readonly kind = ErrorKind.Unavailable;

  readonly operation: StoreOperation;
  readonly collection: string | undefined;
  readonly id: string | undefined;

  /** @param reason What happened, naming the server, e.g. `nats-server at 127.0.0.1:4222 gave no answer within 5000 ms`. */
  constructor(
    site: StoreCallSite,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(StoreErrorCode.StoreUnavailable, `${showCallSite(site)}: ${reason}`, { cause });
    this.operation = site.operation;
    this.collection = site.collection;
    this.id = site.id;
  }
}

/** The store was disposed and refuses every further call. */
export class StoreDisposedError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(readonly store: string) {
    super(StoreErrorCode.StoreDisposed, `${store} is disposed`);
  }
}

/**
 * A file-system operation of a `put` or `delete` failed; the fs error is the `cause`. The message
 * reads `store write failed at <path>: <CODE>: <problem> (store put <collection>/<id>)`, e.g.
 * `store write failed at /data/sessions: EEXIST: /data/sessions exists and is not a directory (store put sessions/chat-1)`.
 */
export class StoreWriteError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  /** The call that failed; undefined only where the error was made without one. */
  readonly operation: StoreOperation | undefined;
  readonly collection: string | undefined;
  readonly id: string | undefined;
  /** The errno code of the cause, if it has one. */
  readonly fsCode: string | undefined;

  /**
   * @param path The path the store was writing.
   * @param site Which call failed. Without it (and `problem`) the message is the fs error's own.
   * @param problem What is wrong with the path; defaults to the fs error's message.
   */
  constructor(
    readonly path: string,
    cause: unknown,
    site?: StoreCallSite,
    problem?: StoreFsProblem,
  ) {
    const detail = problem ? `${problem.code === undefined ? '' : `${problem.code}: `}${problem.text}` : describe(cause);
    const call = site ? ` (${showCallSite(site)})` : '';
    super(StoreErrorCode.StoreWriteFailed, `store write failed at ${path}: ${detail}${call}`, { cause });
    this.operation = site?.operation;
    this.collection = site?.collection;
    this.id = site?.id;
    this.fsCode = problem ? problem.code : (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * A file-system operation of a `get`, a `list` or the store's opening of its data directory
 * failed: the path is not a directory, is a directory where a value file should be, cannot be
 * read, and so on. The fs error (if any) is the `cause`. The message names the call, the path
 * at fault and what is wrong with it, e.g.
 * `store get sessions/chat-1: /data/sessions/chat-1.json is a directory (EISDIR)`.
 */
export class StoreIoError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  readonly operation: StoreOperation;
  /** Undefined for `open`. */
  readonly collection: string | undefined;
  /** Undefined for `open` and `list`. */
  readonly id: string | undefined;
  /** The path at fault (for ENOTDIR, the ancestor that is not a directory). */
  readonly path: string;
  /** The errno code, or undefined where the store found the problem itself (a FIFO where a value should be). */
  readonly fsCode: string | undefined;

  constructor(site: StoreCallSite, problem: StoreFsProblem, cause?: unknown) {
    const code = problem.code === undefined ? '' : ` (${problem.code})`;
    super(StoreErrorCode.StoreIo, `${showCallSite(site)}: ${problem.text}${code}`, { cause });
    this.operation = site.operation;
    this.collection = site.collection;
    this.id = site.id;
    this.path = problem.path;
    this.fsCode = problem.code;
  }
}

/** @internal `store get sessions/chat-1`, `store list sessions`, `store open`: the call as messages name it. */
export function showCallSite(site: StoreCallSite): string {
  const key = site.collection === undefined ? '' : ` ${site.collection}${site.id === undefined ? '' : `/${site.id}`}`;
  return `store ${site.operation}${key}`;
}

/** Shows a key in a message; long keys are cut so one bad key cannot flood a log line. */
function showKey(key: unknown): string {
  if (typeof key !== 'string') {
    let text: string;
    try {
      text = String(key);
    } catch {
      text = Object.prototype.toString.call(key); // objects without a prototype cannot be String()ed
    }
    return `(${typeof key}) ${text.length > 160 ? `${text.slice(0, 160)}…` : text}`;
  }
  const shown = key.length > 160 ? `${key.slice(0, 160)}…` : key;
  return JSON.stringify(shown);
}

/**
 * Whether `error` says a stored value exists but cannot be read (`STORE_CORRUPT`, `STORE_IO_ERROR`):
 * what a listing skips and reports rather than failing whole.
 */
export function isDamagedValueError(error: unknown): error is ActorError {
  return error instanceof ActorError && (error.code === StoreErrorCode.StoreCorrupt || error.code === StoreErrorCode.StoreIo);
}
