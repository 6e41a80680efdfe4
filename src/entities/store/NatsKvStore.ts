import { type NatsConnection, type QueuedIterator, TimeoutError } from '@nats-io/nats-core';
import { jetstream, JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { KeyedQueue, queueKey, untilSettled } from './KeyedQueue.js';
import { natsKvCollectionFilter, natsKvKey, storeKeyOfNatsKv } from './natsKvKeys.js';
import { type NatsKvPlace, natsKvLocation, natsStoreFailure } from './natsKvFailures.js';
import {
  checkExpectedRevision,
  checkStoreKey,
  serializeStoreValue,
  type Store,
  type StoreCallOptions,
  type StoreEntry,
  throwIfAborted,
} from './Store.js';
import {
  type StoreCallSite,
  StoreConflictError,
  StoreCorruptError,
  StoreDisposedError,
  StoreWriteError,
  showCallSite,
} from './storeErrors.js';

/** Options of {@link NatsKvStore}. */
export interface NatsKvStoreOptions {
  /** The connection to nats-server (started with JetStream). The caller's: the store never closes it. Required. */
  connection: NatsConnection;
  /** The KV bucket (`[A-Za-z0-9_-]+`), created on first use if missing. Defaults to `llama-actors`. */
  bucket?: string;
  /** Copies of each value in a JetStream cluster, when the store creates the bucket. Defaults to `1`. */
  replicas?: number;
  /** Revisions kept per key (1–64), when the store creates the bucket; the store reads only the last. Defaults to `1`. */
  history?: number;
  /** Age after which a value expires, in ms, when the store creates the bucket; `0` keeps values forever. Defaults to `0`. */
  ttlMs?: number;
  /** Where the server keeps the bucket, when the store creates it. Defaults to `file`. */
  storage?: 'file' | 'memory';
  /**
   * How long a call waits for nats-server before it fails with `STORE_UNAVAILABLE` (while the
   * client is disconnected or reconnecting, the server is down, ...). Defaults to `5000`.
   */
  timeoutMs?: number;
}

const DEFAULT_BUCKET = 'llama-actors';
const DEFAULT_TIMEOUT_MS = 5_000;
const BUCKET_NAME = /^[A-Za-z0-9_-]+$/;
const OPEN_SITE: StoreCallSite = { operation: 'open' };
/** A call on one key. */
type KeySite = StoreCallSite & { collection: string; id: string };

/**
 * A {@link Store} on a NATS JetStream key-value bucket, shared by every process connected to the
 * same NATS: several front ends (or a CLI beside a server) see one set of sessions. Each value is
 * the JSON text of one KV entry, under the key `<collection>.<id>` (with `.` written `=` and `:`
 * written `/`, which KV keys require); its revision is the entry's, so `update` is checked by
 * nats-server itself and holds across processes.
 *
 * Calls on one key made through this store take effect in call order; different stores on one
 * bucket are ordered only by the server (use `getEntry` and `update` to detect each other). Every
 * call waits at most `timeoutMs` for nats-server, then fails with `StoreUnavailableError` (code
 * `STORE_UNAVAILABLE`, HTTP 503); a write that timed out may or may not have been applied, and
 * says so. A value that is not JSON is `StoreCorruptError`; an error answered by the server is
 * `StoreIoError` for a read, `StoreWriteError` for a write (a value larger than the server's
 * max_payload, 1 MiB by default, among them). A write whose signal fires once it has been sent
 * waits for the server's answer, as the contract wants: it rejects only if nothing changed.
 *
 * @example
 * ```ts
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * await using store = new NatsKvStore({ connection: nc, bucket: 'sessions' });
 * await store.put('sessions', 'chat-1', { turns: ['hi'] });
 * const entry = await store.getEntry('sessions', 'chat-1'); // { value, revision }
 * await store.update('sessions', 'chat-1', { turns: ['hi', 'there'] }, entry!.revision);
 * await nc.close();
 * ```
 */
export class NatsKvStore implements Store {
  readonly bucket: string;
  private readonly connection: NatsConnection;
  private readonly timeoutMs: number;
  private readonly options: NatsKvStoreOptions;
  private readonly queue = new KeyedQueue();
  /** Stops of the listings in flight, so that dispose ends their consumers. */
  private readonly listings = new Set<() => void>();
  private opening: Promise<KV> | undefined;
  private disposing: Promise<void> | undefined;

  constructor(options: NatsKvStoreOptions) {
    if (typeof options?.connection?.getServer !== 'function') {
      throw new InvalidArgumentError('NatsKvStore needs a NatsConnection (options.connection)');
    }
    const bucket = options.bucket ?? DEFAULT_BUCKET;
    if (!BUCKET_NAME.test(bucket)) throw new InvalidArgumentError(`NatsKvStore bucket must match [A-Za-z0-9_-]+, got ${JSON.stringify(bucket)}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError(`NatsKvStore timeoutMs must be positive, got ${timeoutMs}`);
    checkPositiveInteger('replicas', options.replicas);
    checkPositiveInteger('history', options.history);
    if (options.ttlMs !== undefined && !(Number.isFinite(options.ttlMs) && options.ttlMs >= 0)) {
      throw new InvalidArgumentError(`NatsKvStore ttlMs must be ≥ 0, got ${options.ttlMs}`);
    }
    this.connection = options.connection;
    this.bucket = bucket;
    this.timeoutMs = timeoutMs;
    this.options = options;
  }

  async get<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<T | undefined> {
    return (await this.getEntry<T>(collection, id, options))?.value;
  }

  async getEntry<T>(collection: string, id: string, options: StoreCallOptions = {}): Promise<StoreEntry<T> | undefined> {
    const site = this.keySite('get', collection, id);
    const { signal } = options;
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const pending = this.queue.pending(queueKey(collection, id));
    if (pending) await untilSettled(pending, signal, what);
    const key = natsKvKey(collection, id);
    const entry = await this.call(site, 'read', key, (kv) => kv.get(key), signal);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { value: this.parse<T>(entry, key), revision: entry.revision };
  }

  async put<T>(collection: string, id: string, value: T, options: StoreCallOptions = {}): Promise<void> {
    const site = this.keySite('put', collection, id);
    const json = this.serialize(site, value);
    const { signal } = options;
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = natsKvKey(collection, id);
    await this.queue.enqueue(queueKey(collection, id), signal, what, () => this.call(site, 'write', key, (kv) => kv.put(key, json)));
  }

  async update<T>(collection: string, id: string, value: T, expectedRevision: number, options: StoreCallOptions = {}): Promise<number> {
    const site = this.keySite('update', collection, id);
    checkExpectedRevision(collection, id, expectedRevision);
    const json = this.serialize(site, value);
    const { signal } = options;
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = natsKvKey(collection, id);
    return this.queue.enqueue(queueKey(collection, id), signal, what, async () => {
      try {
        // nats-server checks the revision: the write lands only if the key's last entry is still
        // `expectedRevision` (create: none, or a delete marker).
        return await this.call(site, 'write', key, (kv) =>
          expectedRevision === 0 ? kv.create(key, json) : kv.update(key, json, expectedRevision),
        );
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
        const actual = await this.call(site, 'read', key, (kv) => kv.get(key));
        throw new StoreConflictError(collection, id, expectedRevision, actual?.operation === 'PUT' ? actual.revision : undefined);
      }
    });
  }

  async delete(collection: string, id: string, options: StoreCallOptions = {}): Promise<boolean> {
    const site = this.keySite('delete', collection, id);
    const { signal } = options;
    const what = showCallSite(site);
    throwIfAborted(signal, what);
    const key = natsKvKey(collection, id);
    return this.queue.enqueue(queueKey(collection, id), signal, what, async () => {
      const entry = await this.call(site, 'write', key, (kv) => kv.get(key), signal);
      if (entry === null || entry.operation !== 'PUT') return false;
      await this.call(site, 'write', key, (kv) => kv.delete(key));
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
    const pending = this.queue.pendingUnder(queueKey(collection, ''));
    if (pending) await untilSettled(pending, signal, what);
    const keys = await this.call(site, 'read', undefined, (kv) => this.keys(kv, natsKvCollectionFilter(collection), signal, what), signal);
    const ids: string[] = [];
    for (const key of keys) {
      const named = storeKeyOfNatsKv(key);
      if (named?.collection === collection) ids.push(named.id);
    }
    return ids.sort();
  }

  /**
   * Refuses further calls, stops the listings in flight and resolves once every write accepted
   * before it has been answered. The connection stays open (it is the caller's). Idempotent.
   */
  dispose(): Promise<void> {
    if (!this.disposing) {
      for (const stop of this.listings) stop();
      this.disposing = this.queue.drain();
    }
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private assertOpen(): void {
    if (this.disposing) throw new StoreDisposedError(`NatsKvStore(${this.bucket})`);
  }

  private keySite(operation: StoreCallSite['operation'], collection: string, id: string): KeySite {
    this.assertOpen();
    checkStoreKey('collection', collection);
    checkStoreKey('id', id);
    return { operation, collection, id };
  }

  private serialize(site: KeySite, value: unknown): string {
    const json = serializeStoreValue(site.collection, site.id, value);
    const limit = this.connection.info?.max_payload;
    const bytes = Buffer.byteLength(json);
    // Refused here with the numbers rather than by the client's terser InvalidArgumentError.
    if (limit !== undefined && bytes > limit) {
      const location = natsKvLocation({ bucket: this.bucket, key: natsKvKey(site.collection, site.id) });
      const text = `the value is ${bytes} bytes, over nats-server's max_payload of ${limit} bytes`;
      throw new StoreWriteError(location, undefined, site, { path: location, code: 'MAX_PAYLOAD', text });
    }
    return json;
  }

  private parse<T>(entry: KvEntry, key: string): T {
    try {
      return JSON.parse(entry.string()) as T;
    } catch (error) {
      throw new StoreCorruptError(natsKvLocation({ bucket: this.bucket, key }), error);
    }
  }

  /**
   * Runs `operation` on the bucket within `timeoutMs`, its failures mapped to the store's errors.
   * `signal` (reads only) answers the caller at once; the request itself ends by its own timeout.
   */
  private async call<R>(
    site: StoreCallSite,
    kind: 'read' | 'write',
    key: string | undefined,
    operation: (kv: KV) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R> {
    const what = showCallSite(site);
    const kv = await untilSettled(this.ready(), signal, what);
    const place: NatsKvPlace = { server: this.connection.getServer(), bucket: this.bucket, timeoutMs: this.timeoutMs, ...(key === undefined ? {} : { key }) };
    try {
      return await untilSettled(withDeadline(operation(kv), this.timeoutMs), signal, what);
    } catch (error) {
      throw natsStoreFailure(error, site, kind, place);
    }
  }

  /** Opens the bucket, creating it if missing (an existing one is used as it is). Once, retried after a failure. */
  private ready(): Promise<KV> {
    this.opening ??= this.open().catch((error: unknown) => {
      this.opening = undefined; // a later call may find the server back
      throw error;
    });
    return this.opening;
  }

  private async open(): Promise<KV> {
    const { replicas, history, ttlMs, storage } = this.options;
    try {
      const kvm = new Kvm(jetstream(this.connection, { timeout: this.timeoutMs }));
      return await withDeadline(
        kvm.create(this.bucket, {
          timeout: this.timeoutMs,
          replicas: replicas ?? 1,
          history: history ?? 1,
          ...(ttlMs ? { ttl: ttlMs } : {}),
          storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
        }),
        this.timeoutMs,
      );
    } catch (error) {
      throw natsStoreFailure(error, OPEN_SITE, 'read', { server: this.connection.getServer(), bucket: this.bucket, timeoutMs: this.timeoutMs });
    }
  }

  /**
   * The keys matching `filter` (deleted ones excluded). The consumer behind them is stopped however
   * the listing ends: done, past `timeoutMs`, aborted or by dispose (which then reject rather than
   * answer a partial list).
   */
  private async keys(kv: KV, filter: string, signal: AbortSignal | undefined, what: string): Promise<string[]> {
    let iterator: QueuedIterator<string> | undefined;
    let expired = false;
    const stop = (): void => iterator?.stop();
    const timer = setTimeout(() => {
      expired = true;
      stop();
    }, this.timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    this.listings.add(stop);
    try {
      iterator = await kv.keys(filter);
      if (expired || signal?.aborted || this.disposing) iterator.stop();
      const keys: string[] = [];
      for await (const key of iterator) keys.push(key);
      if (this.disposing) throw new StoreDisposedError(`NatsKvStore(${this.bucket})`);
      throwIfAborted(signal, what);
      if (expired) throw new TimeoutError();
      return keys;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      this.listings.delete(stop);
      iterator?.stop();
    }
  }
}

/** Whether a JetStream publish was refused because the key is not at the expected revision. */
function isWrongLastSequence(error: unknown): boolean {
  const api = error instanceof JetStreamApiError ? error : (error as { cause?: unknown } | undefined)?.cause;
  return (
    api instanceof JetStreamApiError &&
    (api.code === JetStreamApiCodes.StreamWrongLastSequence || api.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** `promise`, or nats's TimeoutError after `ms` (the request may still be answered later). */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError()), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new InvalidArgumentError(`NatsKvStore ${name} must be a positive integer, got ${value}`);
  }
}
