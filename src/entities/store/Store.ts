import { AbortedError, describe, InvalidArgumentError } from '../../messaging/errors.js';
import { InvalidStoreKeyError, type StoreKeyPart } from './storeErrors.js';

/** Options every {@link Store} call takes. */
export interface StoreCallOptions {
  /**
   * Aborts the call: it rejects with `AbortedError` (code `ABORTED`). A write that is aborted
   * rejects only if it changed nothing; once it has committed it resolves. Defaults to none.
   */
  signal?: AbortSignal;
}

/**
 * Durable key-value storage of JSON documents, addressed by `(collection, id)`. Both parts of a
 * key are 1–128 characters of `[A-Za-z0-9._:-]`, contain no `..` and do not start with `.`;
 * anything else is refused with `InvalidStoreKeyError` (code `INVALID_STORE_KEY`).
 *
 * Values go in and come out as JSON (what `JSON.stringify` writes), so a caller never shares an
 * object with the store. A value `JSON.stringify` refuses (a BigInt, a cycle, `undefined`, a
 * function) is refused with `InvalidArgumentError` before anything is stored. After `dispose()`
 * every call rejects with `StoreDisposedError` (code `STORE_DISPOSED`).
 *
 * Calls on one key take effect in call order: a `get` sees every `put` and `delete` of that key
 * called before it, even ones the caller has not awaited yet.
 *
 * A store backed by storage that can break reports it with typed errors naming the call, the key
 * and the path at fault: `StoreIoError` (code `STORE_IO_ERROR`) when reading fails,
 * `StoreWriteError` (`STORE_WRITE_FAILED`) when writing does, `StoreCorruptError`
 * (`STORE_CORRUPT`) for a value that is there but is not JSON, `StoreUnavailableError`
 * (`STORE_UNAVAILABLE`) for a store server that does not answer. `MemoryStore` raises none of them.
 *
 * Every value is at a revision: a positive integer that changes with each write of its key and is
 * never handed out again for that key (a value deleted and written again gets a new one), so two
 * writers sharing a store can detect each other: read with {@link Store.getEntry}, write with
 * {@link Store.update}, which writes only if the value is still at the revision read and otherwise
 * rejects with `StoreConflictError` (code `STORE_CONFLICT`), writing nothing. Plain `put` ignores
 * revisions (the last write wins) and moves the value to a new one.
 *
 * @example
 * ```ts
 * await using store = new FileStore({ dataDir: './data' });
 * await store.put('sessions', 'chat-1', { turns: ['hi'] });
 * const session = await store.get<{ turns: string[] }>('sessions', 'chat-1');
 * ```
 */
export interface Store extends AsyncDisposable {
  /** The value stored at (collection, id), or undefined. A value that cannot be read or parsed rejects (see above). */
  get<T>(collection: string, id: string, options?: StoreCallOptions): Promise<T | undefined>;
  /**
   * The value at (collection, id) and its revision, or undefined. Fails like `get`.
   *
   * @example
   * ```ts
   * const entry = await store.getEntry<Counter>('counters', 'visits');
   * await store.update('counters', 'visits', { n: (entry?.value.n ?? 0) + 1 }, entry?.revision ?? 0);
   * ```
   */
  getEntry<T>(collection: string, id: string, options?: StoreCallOptions): Promise<StoreEntry<T> | undefined>;
  /** Stores a JSON-serializable value, replacing any previous one atomically. */
  put<T>(collection: string, id: string, value: T, options?: StoreCallOptions): Promise<void>;
  /**
   * Stores `value` only if the value at (collection, id) is still at `expectedRevision` (`0`:
   * only if there is none), atomically; resolves with its new revision. Otherwise rejects with
   * `StoreConflictError` naming the key, the expected and the actual revision, and writes nothing.
   * Fails otherwise like `put`.
   */
  update<T>(collection: string, id: string, value: T, expectedRevision: number, options?: StoreCallOptions): Promise<number>;
  /** Removes it; true if something was there. */
  delete(collection: string, id: string, options?: StoreCallOptions): Promise<boolean>;
  /**
   * Ids in a collection, sorted. Lists every value that is there, a corrupt one included (so it
   * can be found and repaired by a `put`); anything in the collection that cannot hold a value
   * (a directory, a temporary or foreign file) is skipped, not an error.
   */
  list(collection: string, options?: StoreCallOptions): Promise<string[]>;
  /** Refuses further calls and waits for writes already accepted. Idempotent. */
  dispose(): Promise<void>;
}

/** A stored value and the revision it is at (see {@link Store}). */
export interface StoreEntry<T> {
  value: T;
  /** Positive; compare for equality only (how revisions grow is the store's own). */
  revision: number;
}

/** Longest collection or id a store accepts. */
export const STORE_KEY_MAX_LENGTH = 128;

const KEY_CHARACTERS = /^[A-Za-z0-9._:-]*$/;
const BAD_CHARACTER = /[^A-Za-z0-9._:-]/u;

/** @internal Throws `InvalidStoreKeyError` naming the first rule `key` breaks. */
export function checkStoreKey(part: StoreKeyPart, key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidStoreKeyError(part, key, 'type', `must be a string, got ${typeof key}`);
  }
  if (key.length < 1 || key.length > STORE_KEY_MAX_LENGTH) {
    throw new InvalidStoreKeyError(
      part,
      key,
      'length',
      `must be 1–${STORE_KEY_MAX_LENGTH} characters long, got ${key.length}`,
    );
  }
  if (!KEY_CHARACTERS.test(key)) {
    const bad = BAD_CHARACTER.exec(key)?.[0] ?? '';
    throw new InvalidStoreKeyError(
      part,
      key,
      'characters',
      `may only contain letters, digits and . _ : - (found ${JSON.stringify(bad)})`,
    );
  }
  if (key.includes('..')) {
    throw new InvalidStoreKeyError(part, key, 'dot-dot', 'must not contain ".."');
  }
  if (key.startsWith('.')) {
    throw new InvalidStoreKeyError(part, key, 'leading-dot', 'must not start with "."');
  }
}

/** @internal The JSON text of `value`, or `InvalidArgumentError` if JSON cannot represent it. */
export function serializeStoreValue(collection: string, id: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`store value for ${collection}/${id} is not JSON-serializable: ${describe(error)}`);
  }
  // JSON.stringify answers undefined (rather than throwing) for undefined, functions and symbols.
  if (json === undefined) {
    throw new InvalidArgumentError(`store value for ${collection}/${id} is not JSON-serializable: got ${typeof value}`);
  }
  return json;
}

/** @internal Throws `InvalidArgumentError` unless `revision` is an expected revision: an integer ≥ 0. */
export function checkExpectedRevision(collection: string, id: string, revision: unknown): asserts revision is number {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) {
    throw new InvalidArgumentError(
      `store update ${collection}/${id}: expected revision must be an integer ≥ 0 (0: no value), got ${String(revision)}`,
    );
  }
}

/** @internal Throws `AbortedError` if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, { cause: signal.reason });
}
