import { checkStoreKey, serializeStoreValue, type Store, type StoreCallOptions, throwIfAborted } from './Store.js';
import { StoreDisposedError } from './storeErrors.js';

/**
 * A {@link Store} kept in memory, for tests and throwaway runs: nothing survives the process.
 * It validates keys and values exactly like `FileStore` and keeps values as JSON text, so code
 * tested against it cannot come to rely on sharing objects with the store.
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
  private readonly collections = new Map<string, Map<string, string>>();
  private disposed = false;

  async get<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<T | undefined> {
    this.check(collection, id, options.signal, 'store get');
    const json = this.collections.get(collection)?.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  async put<T>(collection: string, id: string, value: T, options: StoreCallOptions = {}): Promise<void> {
    this.check(collection, id, undefined, 'store put');
    const json = serializeStoreValue(collection, id, value);
    throwIfAborted(options.signal, `store put ${collection}/${id}`);
    let entries = this.collections.get(collection);
    if (!entries) {
      entries = new Map();
      this.collections.set(collection, entries);
    }
    entries.set(id, json);
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

  private check(collection: string, id: string, signal: AbortSignal | undefined, what: string): void {
    if (this.disposed) throw new StoreDisposedError('MemoryStore');
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    throwIfAborted(signal, `${what} ${collection}/${id}`);
  }
}
