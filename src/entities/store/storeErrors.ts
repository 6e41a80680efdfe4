/**
 * Typed errors of the durable {@link Store}: each has a stable code, like the kernel's errors,
 * and a message that names the key, file or path involved so a log line is enough to act on.
 */
import { ActorError, describe } from '../../messaging/errors.js';

/** Stable machine-readable codes of the store's errors. Never renamed once published. */
export const StoreErrorCode = {
  InvalidStoreKey: 'INVALID_STORE_KEY',
  StoreCorrupt: 'STORE_CORRUPT',
  StoreDisposed: 'STORE_DISPOSED',
  StoreWriteFailed: 'STORE_WRITE_FAILED',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

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
  constructor(
    readonly part: StoreKeyPart,
    readonly key: unknown,
    readonly rule: StoreKeyRule,
    reason: string,
  ) {
    super(StoreErrorCode.InvalidStoreKey, `invalid store ${part} ${showKey(key)}: ${reason}`);
  }
}

/** A stored file exists but does not hold valid JSON; the parse error is the `cause`. */
export class StoreCorruptError extends ActorError {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(StoreErrorCode.StoreCorrupt, `corrupt store file ${file}: ${describe(cause)}`, { cause });
  }
}

/** The store was disposed and refuses every further call. */
export class StoreDisposedError extends ActorError {
  constructor(readonly store: string) {
    super(StoreErrorCode.StoreDisposed, `${store} is disposed`);
  }
}

/** A file-system operation of a write (or of the store's housekeeping) failed; the fs error is the `cause`. */
export class StoreWriteError extends ActorError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(StoreErrorCode.StoreWriteFailed, `store write failed at ${path}: ${describe(cause)}`, { cause });
  }
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
