import { randomUUID } from 'node:crypto';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AbortedError, InvalidArgumentError } from '../../messaging/errors.js';
import { makeDirectory, readRegularFile, removeTemporaries, syncDirectory, TEMPORARY_SUFFIX } from './fileSystem.js';
import { errnoCode, FsFailure, storeFailure } from './fsProblems.js';
import { KeyedQueue, queueKey as storeKey, untilSettled } from './KeyedQueue.js';
import { RevisionBook, RevisionCounter } from './RevisionBook.js';
import {
  checkExpectedRevision,
  checkStoreKey,
  serializeStoreValue,
  type Store,
  type StoreCallOptions,
  type StoreEntry,
  throwIfAborted,
} from './Store.js';
import { type StoreCallSite, StoreConflictError, StoreCorruptError, StoreDisposedError, showCallSite } from './storeErrors.js';

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /**
   * Directory that holds one sub-directory per collection, each value in `<collection>/<id>.json`.
   * Created (with its parents) on first use if missing. Required; relative paths are resolved
   * against the working directory at construction.
   */
  dataDir: string;
}

const JSON_SUFFIX = '.json';
/**
 * Every FileStore of this process numbers from one counter, so two of them (a store disposed and
 * opened again on the same directory) never hand out the same revision; it starts at the clock in
 * microseconds, so a later process starts above an earlier one's numbers.
 */
const PROCESS_REVISIONS = new RevisionCounter(Date.now() * 1000);
/** A call on one key. */
type KeySite = StoreCallSite & { collection: string; id: string };
/** Where the first-use set-up is named in errors: it is shared by every call, so it names none. */
const OPEN_SITE: StoreCallSite = { operation: 'open' };

/**
 * The embedded, durable {@link Store}: each value is one JSON file, `<dataDir>/<collection>/<id>.json`.
 *
 * A `put` writes a unique hidden temporary file next to the target, fsyncs it, renames it over the
 * target and fsyncs the directory. Rename is atomic, so a process killed at any instant leaves
 * either the old complete file or the new complete one, and a `put` that resolved survives a
 * power loss. The temporary files such a kill leaves behind are removed by the store's first call.
 *
 * Calls on one key run one after another in call order, so the last `put` wins; calls on
 * different keys run concurrently. One process should own a `dataDir` at a time: the first call
 * removes every temporary file it finds there, including another live process's.
 *
 * A damaged data directory gives typed errors, never raw fs ones: a failed read (`get`, `list`,
 * the first-use set-up) is `StoreIoError` (code `STORE_IO_ERROR`), a failed `put` or `delete` is
 * `StoreWriteError` (`STORE_WRITE_FAILED`) and a value file that is not JSON is
 * `StoreCorruptError` (`STORE_CORRUPT`); each names the call, the key and the path at fault.
 * `list` lists only regular `<id>.json` files and skips anything else it finds.
 *
 * Revisions live in memory beside the files (the files hold the values alone): this FileStore
 * numbers a value the first time it reads or writes it and gives it a new number at each write,
 * from a counter shared by the process's FileStores that starts at the clock in microseconds. So
 * revisions are this instance's, as the data directory is (one process at a time), and a revision
 * handed out by an earlier FileStore on the same directory never matches a value this one has
 * numbered (in another process: unless the clock went back). Checking and writing happen in the
 * key's chain, so `update` is atomic here.
 *
 * @example
 * ```ts
 * await using store = new FileStore({ dataDir: './data' });
 * await store.put('sessions', 'chat-1', { turns: ['hi'] });
 * await store.get('sessions', 'chat-1'); // { turns: ['hi'] }
 * await store.list('sessions');          // ['chat-1']
 * ```
 */
export class FileStore implements Store {
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** Per key (`collection/id`), its chain of writes. */
  private readonly queue = new KeyedQueue();
  /** Per key, the revision its value is at; see the class comment. */
  private readonly revisions = new RevisionBook(PROCESS_REVISIONS);
  /** Per collection, the creation (and fsync) of its directory, so it happens once. */
  private readonly collectionDirs = new Map<string, Promise<void>>();
  private opening: Promise<void> | undefined;
  private disposing: Promise<void> | undefined;

  constructor(options: FileStoreOptions) {
    const dataDir: unknown = options?.dataDir;
    if (typeof dataDir !== 'string' || dataDir.length === 0) {
      throw new InvalidArgumentError(`FileStore dataDir must be a non-empty path, got ${JSON.stringify(dataDir) ?? String(dataDir)}`);
    }
    this.dataDir = resolve(dataDir);
  }

  async get<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<T | undefined> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    const { signal } = options;
    const site: KeySite = { operation: 'get', collection, id };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    await untilSettled(this.ready(), signal, what);
    const pending = this.queue.pending(storeKey(collection, id));
    if (pending) await untilSettled(pending, signal, what);
    return this.read<T>(site, signal);
  }

  async getEntry<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<StoreEntry<T> | undefined> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    const { signal } = options;
    const site: KeySite = { operation: 'get', collection, id };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = storeKey(collection, id);
    // In the key's chain, so no write can land between reading the value and naming its revision.
    return this.queue.enqueue(key, signal, what, async () => {
      await this.ready();
      const value = await this.read<T>(site, signal);
      return value === undefined ? undefined : { value, revision: this.revisions.current(key) };
    });
  }

  async put<T>(collection: string, id: string, value: T, options: StoreCallOptions = {}): Promise<void> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    const json = serializeStoreValue(collection, id, value);
    const { signal } = options;
    const site: KeySite = { operation: 'put', collection, id };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    return this.queue.enqueue(storeKey(collection, id), signal, what, async () => {
      await this.ready();
      await this.write(site, json, () => throwIfAborted(signal, what));
    });
  }

  async update<T>(collection: string, id: string, value: T, expectedRevision: number, options: StoreCallOptions = {}): Promise<number> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    checkExpectedRevision(collection, id, expectedRevision);
    const json = serializeStoreValue(collection, id, value);
    const { signal } = options;
    const site: KeySite = { operation: 'update', collection, id };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = storeKey(collection, id);
    return this.queue.enqueue(key, signal, what, async () => {
      await this.ready();
      const actual = (await this.exists(site)) ? this.revisions.current(key) : undefined;
      if ((actual ?? 0) !== expectedRevision) throw new StoreConflictError(collection, id, expectedRevision, actual);
      return this.write(site, json, () => throwIfAborted(signal, what));
    });
  }

  async delete(collection: string, id: string, options: StoreCallOptions = {}): Promise<boolean> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    const { signal } = options;
    const site: KeySite = { operation: 'delete', collection, id };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = storeKey(collection, id);
    return this.queue.enqueue(key, signal, what, async () => {
      await this.ready();
      const file = this.file(collection, id);
      try {
        await unlink(file);
        this.revisions.forget(key);
      } catch (error) {
        // ENOTDIR (the collection's path is a file) is damage to report, as `get` and `list` do,
        // not a value that was never there.
        if (errnoCode(error) === 'ENOENT') return false;
        throw await storeFailure(error, site, 'write', file);
      }
      try {
        await syncDirectory(join(this.dataDir, collection));
      } catch (error) {
        throw await storeFailure(error, site, 'write', join(this.dataDir, collection));
      }
      return true;
    });
  }

  async list(collection: string, options: StoreCallOptions = {}): Promise<string[]> {
    this.assertOpen();
    checkStoreKey('collection', collection);
    const { signal } = options;
    const site: StoreCallSite = { operation: 'list', collection };
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    await untilSettled(this.ready(), signal, what);
    const pending = this.queue.pendingUnder(storeKey(collection, ''));
    if (pending) await untilSettled(pending, signal, what);
    const dir = join(this.dataDir, collection);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw await storeFailure(error, site, 'read', dir);
    }
    throwIfAborted(signal, what);
    const ids: string[] = [];
    for (const entry of entries) {
      // A directory named `x.json` (or a FIFO, a symlink) is no value `get` could read: listing it
      // would only hand the caller an id that fails.
      if (!entry.isFile() || !entry.name.endsWith(JSON_SUFFIX)) continue;
      const id = entry.name.slice(0, -JSON_SUFFIX.length);
      // Temporary files start with '.', which no valid id does; foreign files are not ours to list.
      if (isValidKey(id)) ids.push(id);
    }
    return ids.sort();
  }

  /**
   * Refuses further calls and resolves once every write accepted before it has finished (so a
   * resolved `dispose()` means nothing is left half-done). Idempotent.
   */
  dispose(): Promise<void> {
    // No call can join a chain after this line (assertOpen runs synchronously first), so one
    // snapshot of the tails covers every accepted write.
    this.disposing ??= this.queue.drain();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private assertOpen(): void {
    if (this.disposing) throw new StoreDisposedError(`FileStore(${this.dataDir})`);
  }

  private file(collection: string, id: string): string {
    return join(this.dataDir, collection, `${id}${JSON_SUFFIX}`);
  }

  /** The value of `site`'s key, read from its file; undefined if there is none. */
  private async read<T>(site: KeySite, signal: AbortSignal | undefined): Promise<T | undefined> {
    const file = this.file(site.collection, site.id);
    let text: string;
    try {
      text = await readRegularFile(file, signal);
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(showCallSite(site), { cause: signal.reason });
      if (error instanceof FsFailure && errnoCode(error.cause) === 'ENOENT') return undefined;
      throw await storeFailure(error, site, 'read', file);
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new StoreCorruptError(file, error);
    }
  }

  /**
   * Writes `json` as the value of `site`'s key; resolves with its new revision. A failed write
   * renews the revision too: the file may have changed before the failure, and a revision read
   * before it must not match what is there now.
   */
  private async write(site: KeySite, json: string, beforeCommit: () => void): Promise<number> {
    const { collection, id } = site;
    try {
      await this.collectionDir(collection);
      await this.writeAtomically(collection, id, `${json}\n`, beforeCommit);
    } catch (error) {
      this.revisions.renew(storeKey(collection, id));
      throw await storeFailure(error, site, 'write', this.file(collection, id));
    }
    return this.revisions.renew(storeKey(collection, id));
  }

  /** Whether `site`'s key has a file (of any kind: a directory there is damage the write reports). */
  private async exists(site: KeySite): Promise<boolean> {
    const file = this.file(site.collection, site.id);
    try {
      await lstat(file);
      return true;
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return false;
      throw await storeFailure(error, site, 'write', file);
    }
  }

  /** Creates the data directory and removes temporary files a killed process left behind. Once. */
  private ready(): Promise<void> {
    this.opening ??= this.open().catch((error: unknown) => {
      this.opening = undefined; // a later call may find the problem fixed
      throw error;
    });
    return this.opening;
  }

  /**
   * A failure here is `StoreIoError` with operation `open`: every call waits for the set-up, so
   * the error names the data directory rather than the call that happened to come first.
   */
  private async open(): Promise<void> {
    let entries;
    try {
      await makeDirectory(this.dataDir);
      entries = await readdir(this.dataDir, { withFileTypes: true });
    } catch (error) {
      throw await storeFailure(error, OPEN_SITE, 'read', this.dataDir);
    }
    await Promise.all(
      entries
        .filter((entry) => entry.isDirectory() && isValidKey(entry.name))
        .map((entry) => removeTemporaries(join(this.dataDir, entry.name))),
    );
  }

  private collectionDir(collection: string): Promise<void> {
    let made = this.collectionDirs.get(collection);
    if (!made) {
      made = makeDirectory(join(this.dataDir, collection));
      this.collectionDirs.set(collection, made);
      made.catch(() => this.collectionDirs.delete(collection));
    }
    return made;
  }

  /** Temporary file, fsync, rename over the target, fsync the directory. */
  private async writeAtomically(collection: string, id: string, text: string, beforeCommit: () => void): Promise<void> {
    const dir = join(this.dataDir, collection);
    const file = this.file(collection, id);
    // Hidden (leading '.') so it can never be mistaken for an id; unique so concurrent writers
    // never share one.
    const temporary = join(dir, `.${id}.${randomUUID()}${TEMPORARY_SUFFIX}`);
    try {
      const handle = await open(temporary, 'wx');
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      beforeCommit();
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      // Someone removed (or replaced) the collection's directory under us: the next put must
      // make it again rather than trust that it exists.
      if (['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '')) this.collectionDirs.delete(collection);
      throw error; // `put` names it: a raw fs error here concerns `file`
    }
    await syncDirectory(dir);
  }
}

function isValidKey(key: string): boolean {
  try {
    checkStoreKey('id', key);
    return true;
  } catch {
    return false;
  }
}
