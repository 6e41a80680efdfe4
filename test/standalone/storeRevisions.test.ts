/**
 * The store contract's revisions, over MemoryStore, FileStore and NatsKvStore (on a real
 * nats-server with JetStream): getEntry names the revision a value is at, update writes only at
 * it (STORE_CONFLICT otherwise, writing nothing), and no revision is ever handed out twice.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/entities/store/FileStore.js';
import type { Store } from '../../src/entities/store/Store.js';
import { InvalidStoreKeyError, StoreConflictError, StoreDisposedError } from '../../src/entities/store/storeErrors.js';
import { InvalidArgumentError } from '../../src/messaging/errors.js';
import { useStoreKinds } from './helpers/storeKinds.js';

const Collection = { Sessions: 'sessions' } as const;

/** Rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

const { kinds, freshDir } = useStoreKinds();

describe.each(kinds)('$name (Store contract: revisions)', ({ make }) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('getEntry names the revision; update writes only at that revision and answers the new one', async () => {
    expect(await store.getEntry(Collection.Sessions, 'chat')).toBeUndefined();
    const first = await store.update(Collection.Sessions, 'chat', { n: 1 }, 0);
    expect(first).toBeGreaterThan(0);
    expect(await store.getEntry(Collection.Sessions, 'chat')).toEqual({ value: { n: 1 }, revision: first });
    const second = await store.update(Collection.Sessions, 'chat', { n: 2 }, first);
    expect(second).not.toBe(first);
    expect(await store.getEntry(Collection.Sessions, 'chat')).toEqual({ value: { n: 2 }, revision: second });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 2 });
  });

  it('a stale revision is STORE_CONFLICT naming the key, the expected and the actual revision; nothing is written', async () => {
    const first = await store.update(Collection.Sessions, 'chat', { n: 1 }, 0);
    const second = await store.update(Collection.Sessions, 'chat', { n: 2 }, first);
    const error = await rejectionOf(store.update(Collection.Sessions, 'chat', { n: 'lost' }, first));
    expect(error).toBeInstanceOf(StoreConflictError);
    expect(error).toMatchObject({ code: 'STORE_CONFLICT', kind: 'conflict', collection: 'sessions', id: 'chat', expected: first, actual: second });
    expect(error.message).toBe(`store update sessions/chat: expected revision ${first}, found revision ${second}`);
    const create = await rejectionOf(store.update(Collection.Sessions, 'chat', { n: 'again' }, 0));
    expect(create.message).toBe(`store update sessions/chat: expected no value, found revision ${second}`);
    expect(await store.getEntry(Collection.Sessions, 'chat')).toEqual({ value: { n: 2 }, revision: second });
  });

  it('put and delete move the revision: a value deleted and written again never gets an old one back', async () => {
    await store.put(Collection.Sessions, 'chat', { n: 1 });
    const read = (await store.getEntry(Collection.Sessions, 'chat'))!.revision;
    await store.put(Collection.Sessions, 'chat', { n: 2 });
    const afterPut = (await store.getEntry(Collection.Sessions, 'chat'))!.revision;
    expect(afterPut).not.toBe(read);
    expect(await rejectionOf(store.update(Collection.Sessions, 'chat', { n: 3 }, read))).toMatchObject({ code: 'STORE_CONFLICT', actual: afterPut });
    expect(await store.delete(Collection.Sessions, 'chat')).toBe(true);
    const gone = await rejectionOf(store.update(Collection.Sessions, 'chat', { n: 4 }, afterPut));
    expect(gone).toMatchObject({ code: 'STORE_CONFLICT', expected: afterPut, actual: undefined });
    expect(gone.message).toBe(`store update sessions/chat: expected revision ${afterPut}, found no value`);
    const again = await store.update(Collection.Sessions, 'chat', { n: 5 }, 0);
    expect([read, afterPut]).not.toContain(again);
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 5 });
  });

  it('updates racing from one revision: the first called wins, every other is STORE_CONFLICT', async () => {
    const base = await store.update(Collection.Sessions, 'chat', { n: 0 }, 0);
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.update(Collection.Sessions, 'chat', { n: i + 1 }, base)));
    expect(results[0]!.status).toBe('fulfilled');
    for (const result of results.slice(1)) expect(result).toMatchObject({ status: 'rejected', reason: { code: 'STORE_CONFLICT', expected: base } });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 1 });
  });

  it('update refuses a revision that is not an integer ≥ 0, and keys and values like put', async () => {
    for (const revision of [-1, 1.5, Number.NaN, '3']) {
      const error = await rejectionOf(store.update(Collection.Sessions, 'chat', { n: 1 }, revision as number));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toMatch(/^store update sessions\/chat: expected revision must be an integer ≥ 0 \(0: no value\), got /);
    }
    expect(await rejectionOf(store.update(Collection.Sessions, 'a/b', 1, 0))).toBeInstanceOf(InvalidStoreKeyError);
    expect(await rejectionOf(store.update(Collection.Sessions, 'chat', 1n, 0))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejectionOf(store.getEntry('../x', 'chat'))).toBeInstanceOf(InvalidStoreKeyError);
    const controller = new AbortController();
    controller.abort();
    expect(await rejectionOf(store.update(Collection.Sessions, 'chat', 1, 0, { signal: controller.signal }))).toMatchObject({
      code: 'ABORTED',
      message: 'store update sessions/chat was aborted',
    });
    expect(await rejectionOf(store.getEntry(Collection.Sessions, 'chat', { signal: controller.signal }))).toMatchObject({ code: 'ABORTED' });
    expect(await store.list(Collection.Sessions)).toEqual([]);
    await store.dispose();
    expect(await rejectionOf(store.update(Collection.Sessions, 'chat', 1, 0))).toBeInstanceOf(StoreDisposedError);
    expect(await rejectionOf(store.getEntry(Collection.Sessions, 'chat'))).toBeInstanceOf(StoreDisposedError);
  });
});

describe('FileStore revisions', () => {
  it('revisions are the instance’s: a new FileStore on the same dir refuses an earlier one’s, then numbers its own', async () => {
    const dir = await freshDir();
    const first = new FileStore({ dataDir: dir });
    const old = await first.update(Collection.Sessions, 'chat', { n: 1 }, 0);
    await first.dispose();
    await using second = new FileStore({ dataDir: dir });
    const error = await rejectionOf(second.update(Collection.Sessions, 'chat', { n: 'stale' }, old));
    expect(error).toMatchObject({ code: 'STORE_CONFLICT', expected: old });
    const entry = await second.getEntry(Collection.Sessions, 'chat');
    expect(entry).toEqual({ value: { n: 1 }, revision: (error as StoreConflictError).actual });
    await second.update(Collection.Sessions, 'chat', { n: 2 }, entry!.revision);
    expect(await second.get(Collection.Sessions, 'chat')).toEqual({ n: 2 });
  });
});
