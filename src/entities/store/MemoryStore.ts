import {
  checkExpectedRevision,
  checkStoreKey,
  serializeStoreValue,
  type Store,
  type StoreCallOptions,
  type StoreEntry,
  throwIfAborted,
} from './Store.js';
import { StoreConflictError, StoreDisposedError } from './storeErrors.js';

/** A value as MemoryStore keeps it: its JSON text and its revision. */
interface MemoryEntry {
  json: string;
  revision: number;
}

/**
 * A {@link Store} kept in memory, for tests and throwaway runs: nothing survives the process.
 * It validates keys and values exactly like `FileStore` and keeps values as JSON text, so code
 * tested against it cannot come to rely on sharing objects with the store. Revisions come from
 * one counter per store, so a value deleted and written again never gets an old one back.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await store.put('sessions', 'chat-1', { turns: [] });
 * await store.list('sessions'); // ['chat-1']
 * await store.dispose();
 * ```
 */
export class MemoryStore implements Store {
  private readonly collections = new Map<string, Map<string, MemoryEntry>>();
  private lastRevision = 0;
  private disposed = false;

  async get<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<T | undefined> {
    return (await this.getEntry<T>(collection, id, options))?.value;
  }

  async getEntry<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<StoreEntry<T> | undefined> {
    this.check(collection, id, options.signal, 'store get');
    const entry = this.collections.get(collection)?.get(id);
    return entry === undefined ? undefined : { value: JSON.parse(entry.json) as T, revision: entry.revision };
  }

  async put<T>(collection: string, id: string, value: T, options: StoreCallOptions = {}): Promise<void> {
    this.check(collection, id, undefined, 'store put');
    const json = serializeStoreValue(collection, id, value);
    throwIfAborted(options.signal, `store put ${collection}/${id}`);
    this.write(collection, id, json);
  }

  async update<T>(collection: string, id: string, value: T, expectedRevision: number, options: StoreCallOptions = {}): Promise<number> {
    this.check(collection, id, undefined, 'store update');
    checkExpectedRevision(collection, id, expectedRevision);
    const json = serializeStoreValue(collection, id, value);
    throwIfAborted(options.signal, `store update ${collection}/${id}`);
    const actual = this.collections.get(collection)?.get(id)?.revision;
    if ((actual ?? 0) !== expectedRevision) throw new StoreConflictError(collection, id, expectedRevision, actual);
    return this.write(collection, id, json);
  }

  async delete(collection: string, id: string, options: StoreCallOptions = {}): Promise<boolean> {
    this.check(collection, id, options.signal, 'store delete');
    const entries = this.collections.get(collection);
    const existed = entries?.delete(id) ?? false;
    if (entries?.size === 0) this.collections.delete(collection);
    return existed;
  }

  async list(collection: string, options: StoreCallOptions = {}): Promise<string[]> {
    if (this.disposed) throw new StoreDisposedError('MemoryStore');
    checkStoreKey('collection', collection);
    throwIfAborted(options.signal, `store list ${collection}`);
    return [...(this.collections.get(collection)?.keys() ?? [])].sort();
  }

  /** Drops every value and refuses further calls. Idempotent. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.collections.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private write(collection: string, id: string, json: string): number {
    let entries = this.collections.get(collection);
    if (!entries) {
      entries = new Map();
      this.collections.set(collection, entries);
    }
    const revision = ++this.lastRevision;
    entries.set(id, { json, revision });
    return revision;
  }

  private check(collection: string, id: string, signal: AbortSignal | undefined, what: string): void {
    if (this.disposed) throw new StoreDisposedError('MemoryStore');
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    throwIfAborted(signal, `${what} ${collection}/${id}`);
  }
}
