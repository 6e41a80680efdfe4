import type { Store, StoreCallOptions, StoreEntry } from './Store.js';

/**
 * A {@link Store} that keeps some collections in a store of this process and the rest in a shared
 * one. A front end on a shared NatsKvStore (`serve --store nats`) keeps its model-load markers
 * (`model-loads`) to itself: a marker says "this process is loading the model", and another front
 * end reading it from the shared bucket would take a load under way elsewhere for a crash of its
 * own (`MODEL_LOAD_CRASHED`). Disposing disposes both stores.
 *
 * @example
 * ```ts
 * const store = new ProcessLocalCollections(new NatsKvStore({ connection }), new MemoryStore(), [EntityCollection.ModelLoads]);
 * ```
 */
export class ProcessLocalCollections implements Store {
  private readonly localCollections: ReadonlySet<string>;

  /**
   * @param shared where every other collection goes.
   * @param local where `collections` go.
   * @param collections the collections kept in `local`.
   */
  constructor(
    private readonly shared: Store,
    private readonly local: Store,
    collections: readonly string[],
  ) {
    this.localCollections = new Set(collections);
  }

  private of(collection: string): Store {
    return this.localCollections.has(collection) ? this.local : this.shared;
  }

  get<T>(collection: string, id: string, options?: StoreCallOptions): Promise<T | undefined> {
    return this.of(collection).get<T>(collection, id, options);
  }

  getEntry<T>(collection: string, id: string, options?: StoreCallOptions): Promise<StoreEntry<T> | undefined> {
    return this.of(collection).getEntry<T>(collection, id, options);
  }

  put<T>(collection: string, id: string, value: T, options?: StoreCallOptions): Promise<void> {
    return this.of(collection).put(collection, id, value, options);
  }

  update<T>(collection: string, id: string, value: T, expectedRevision: number, options?: StoreCallOptions): Promise<number> {
    return this.of(collection).update(collection, id, value, expectedRevision, options);
  }

  delete(collection: string, id: string, options?: StoreCallOptions): Promise<boolean> {
    return this.of(collection).delete(collection, id, options);
  }

  list(collection: string, options?: StoreCallOptions): Promise<string[]> {
    return this.of(collection).list(collection, options);
  }

  async dispose(): Promise<void> {
    try {
      await this.shared.dispose();
    } finally {
      await this.local.dispose();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
