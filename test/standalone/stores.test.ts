import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError, InvalidArgumentError } from '../../src/messaging/errors.js';
import { FileStore } from '../../src/entities/store/FileStore.js';
import type { Store } from '../../src/entities/store/Store.js';
import {
  InvalidStoreKeyError,
  StoreCorruptError,
  StoreDisposedError,
  StoreWriteError,
} from '../../src/entities/store/storeErrors.js';
import { useStoreKinds } from './helpers/storeKinds.js';

const Collection = { Sessions: 'sessions', Tools: 'tools' } as const;

/** Rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

/** Rejections of all `promises`, each handled from the start. */
async function rejectionsOf(promises: Promise<unknown>[]): Promise<Error[]> {
  return Promise.all(promises.map(rejectionOf));
}

const { kinds, freshDir } = useStoreKinds();

describe.each(kinds)('$name (Store contract)', ({ make }) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });
  afterEach(async () => {
    await store.dispose();
  });

  it('puts, gets, lists (sorted) and deletes, one collection apart from another', async () => {
    expect(await store.get(Collection.Sessions, 'a')).toBeUndefined();
    expect(await store.list(Collection.Sessions)).toEqual([]);
    await store.put(Collection.Sessions, 'c', { n: 3 });
    await store.put(Collection.Sessions, 'a', { n: 1 });
    await store.put(Collection.Sessions, 'b', { n: 2 });
    await store.put(Collection.Tools, 'a', 'tool a');
    expect(await store.get(Collection.Sessions, 'a')).toEqual({ n: 1 });
    expect(await store.get(Collection.Tools, 'a')).toBe('tool a');
    expect(await store.list(Collection.Sessions)).toEqual(['a', 'b', 'c']);
    expect(await store.delete(Collection.Sessions, 'b')).toBe(true);
    expect(await store.delete(Collection.Sessions, 'b')).toBe(false);
    expect(await store.delete(Collection.Sessions, 'never')).toBe(false);
    expect(await store.get(Collection.Sessions, 'b')).toBeUndefined();
    expect(await store.list(Collection.Sessions)).toEqual(['a', 'c']);
    expect(await store.list(Collection.Tools)).toEqual(['a']);
  });

  it('overwrites a value in place', async () => {
    await store.put(Collection.Sessions, 'chat', { turns: ['hi'] });
    await store.put(Collection.Sessions, 'chat', { turns: ['hi', 'there'], done: true });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ turns: ['hi', 'there'], done: true });
    expect(await store.list(Collection.Sessions)).toEqual(['chat']);
  });

  it('round-trips every JSON shape, null included (which is not "missing")', async () => {
    const values = [null, 0, -1.5, '', 'text ✓', true, [], [1, [2, { three: 3 }]], { nested: { deep: [null] } }];
    for (const [i, value] of values.entries()) await store.put(Collection.Sessions, `v${i}`, value);
    for (const [i, value] of values.entries()) expect(await store.get(Collection.Sessions, `v${i}`)).toEqual(value);
  });

  it('accepts keys at the edges of the rules', async () => {
    const keys = ['a', 'x'.repeat(128), 'A.b_c:d-9', 'end.', 'a.b.c'];
    for (const key of keys) await store.put(key, key, key);
    for (const key of keys) expect(await store.get(key, key)).toBe(key);
    expect(await store.list('x'.repeat(128))).toEqual(['x'.repeat(128)]);
  });

  it.each([
    ['', 'length', 'invalid store id "": must be 1–128 characters long, got 0'],
    ['x'.repeat(129), 'length', `invalid store id "${'x'.repeat(129)}": must be 1–128 characters long, got 129`],
    ['a/b', 'characters', 'invalid store id "a/b": may only contain letters, digits and . _ : - (found "/")'],
    ['a b', 'characters', 'invalid store id "a b": may only contain letters, digits and . _ : - (found " ")'],
    ['café', 'characters', 'invalid store id "café": may only contain letters, digits and . _ : - (found "é")'],
    ['a\\b', 'characters', 'invalid store id "a\\\\b": may only contain letters, digits and . _ : - (found "\\\\")'],
    ['a..b', 'dot-dot', 'invalid store id "a..b": must not contain ".."'],
    ['..', 'dot-dot', 'invalid store id "..": must not contain ".."'],
    ['.hidden', 'leading-dot', 'invalid store id ".hidden": must not start with "."'],
    [42, 'type', 'invalid store id (number) 42: must be a string, got number'],
  ])('refuses the id %j (%s) with INVALID_STORE_KEY naming the rule and the key', async (key, rule, message) => {
    const id = key as string;
    for (const error of await rejectionsOf([
      store.put(Collection.Sessions, id, { a: 1 }),
      store.get(Collection.Sessions, id),
      store.delete(Collection.Sessions, id),
    ])) {
      expect(error).toBeInstanceOf(InvalidStoreKeyError);
      expect(error).toMatchObject({ code: 'INVALID_STORE_KEY', part: 'id', rule, key });
      expect(error.message).toBe(message);
    }
  });

  it('applies the same rules to collections, in every call', async () => {
    for (const error of await rejectionsOf([
      store.put('../etc', 'id', 1),
      store.get('../etc', 'id'),
      store.delete('../etc', 'id'),
      store.list('../etc'),
    ])) {
      expect(error).toBeInstanceOf(InvalidStoreKeyError);
      expect(error.message).toBe(
        'invalid store collection "../etc": may only contain letters, digits and . _ : - (found "/")',
      );
    }
    const error = await rejectionOf(store.list('.git'));
    expect(error).toMatchObject({ code: 'INVALID_STORE_KEY', part: 'collection', rule: 'leading-dot' });
  });

  it('refuses values JSON cannot hold with INVALID_ARGUMENT, storing nothing', async () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const cases: [unknown, RegExp][] = [
      [10n, /BigInt/],
      [{ usage: { tokens: 5n } }, /BigInt/],
      [cyclic, /circular/i],
      [undefined, /got undefined/],
      [() => 1, /got function/],
      [Symbol('s'), /got symbol/],
    ];
    for (const [value, reason] of cases) {
      const error = await rejectionOf(store.put(Collection.Sessions, 'bad', value));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(error.message).toMatch(/^store value for sessions\/bad is not JSON-serializable: /);
      expect(error.message).toMatch(reason);
    }
    expect(await store.get(Collection.Sessions, 'bad')).toBeUndefined();
    expect(await store.list(Collection.Sessions)).toEqual([]);
  });

  it('keeps copies, never the caller’s objects: mutations on either side do not leak', async () => {
    const value = { turns: ['hi'], meta: { n: 1 } };
    await store.put(Collection.Sessions, 'chat', value);
    value.turns.push('mutated after put');
    value.meta.n = 99;
    const first = await store.get<typeof value>(Collection.Sessions, 'chat');
    expect(first).toEqual({ turns: ['hi'], meta: { n: 1 } });
    first!.turns.push('mutated after get');
    const second = await store.get<typeof value>(Collection.Sessions, 'chat');
    expect(second).toEqual({ turns: ['hi'], meta: { n: 1 } });
    expect(second).not.toBe(first);
  });

  it('concurrent puts to one key end with the last one called', async () => {
    await Promise.all(Array.from({ length: 25 }, (_, i) => store.put(Collection.Sessions, 'chat', { n: i + 1 })));
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 25 });
  });

  it('calls on one key take effect in call order, and a get sees writes it has not awaited', async () => {
    const writes = [
      store.put(Collection.Sessions, 'chat', { n: 1 }),
      store.delete(Collection.Sessions, 'chat'),
      store.put(Collection.Sessions, 'chat', { n: 2 }),
    ];
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 2 });
    expect(await Promise.all(writes)).toEqual([undefined, true, undefined]);
    const last = [store.put(Collection.Sessions, 'chat', { n: 3 }), store.delete(Collection.Sessions, 'chat')];
    expect(await store.list(Collection.Sessions)).toEqual([]);
    expect(await Promise.all(last)).toEqual([undefined, true]);
  });

  it('an already aborted signal rejects every call with ABORTED, and the put stores nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller left'));
    const { signal } = controller;
    for (const error of await rejectionsOf([
      store.put(Collection.Sessions, 'chat', { n: 1 }, { signal }),
      store.get(Collection.Sessions, 'chat', { signal }),
      store.delete(Collection.Sessions, 'chat', { signal }),
      store.list(Collection.Sessions, { signal }),
    ])) {
      expect(error).toBeInstanceOf(AbortedError);
      expect(error).toMatchObject({ code: 'ABORTED', cause: signal.reason });
      expect(error.message).toMatch(/^store (put|get|delete|list) sessions(\/chat)? was aborted$/);
    }
    expect(await store.get(Collection.Sessions, 'chat')).toBeUndefined();
  });

  it('after dispose every call rejects with STORE_DISPOSED; dispose is idempotent', async () => {
    await store.put(Collection.Sessions, 'chat', 1);
    await store.dispose();
    await store.dispose();
    await store[Symbol.asyncDispose]();
    for (const error of await rejectionsOf([
      store.put(Collection.Sessions, 'chat', 2),
      store.get(Collection.Sessions, 'chat'),
      store.delete(Collection.Sessions, 'chat'),
      store.list(Collection.Sessions),
    ])) {
      expect(error).toBeInstanceOf(StoreDisposedError);
      expect(error).toMatchObject({ code: 'STORE_DISPOSED' });
      expect(error.message).toMatch(/Store.* is disposed$/);
    }
  });

  it('dispose waits for the writes already accepted', async () => {
    const settled: number[] = [];
    const writes = [1, 2, 3].map((n) => store.put(Collection.Sessions, `k${n}`, n).then(() => settled.push(n)));
    await store.dispose();
    expect(settled.sort()).toEqual([1, 2, 3]);
    await Promise.all(writes);
  });
});

describe('FileStore (on disk)', () => {
  it('writes each value as valid JSON at <dataDir>/<collection>/<id>.json, leaving no temporary files', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    const value = { turns: ['hello', 'world'], n: 2 };
    await store.put(Collection.Sessions, 'chat:1', value);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(Collection.Sessions, `k${i}`, { i })));
    expect(JSON.parse(await readFile(join(dir, 'sessions', 'chat:1.json'), 'utf8'))).toEqual(value);
    expect((await readdir(join(dir, 'sessions'))).sort()).toEqual(
      ['chat:1.json', ...Array.from({ length: 10 }, (_, i) => `k${i}.json`)].sort(),
    );
  });

  it('creates a missing data directory on first write, and a refused value touches no disk', async () => {
    const root = await freshDir();
    const dataDir = join(root, 'nested', 'data');
    await using store = new FileStore({ dataDir });
    await expect(store.put(Collection.Sessions, 'chat', { big: 1n })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await readdir(root)).toEqual([]);
    await store.put(Collection.Sessions, 'chat', { ok: true });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ ok: true });
  });

  it('a value outlives its store: a new FileStore on the same dir reads it', async () => {
    const dir = await freshDir();
    const first = new FileStore({ dataDir: dir });
    const write = first.put(Collection.Sessions, 'chat', { turns: ['kept'] });
    await first.dispose();
    await write;
    await using second = new FileStore({ dataDir: dir });
    expect(await second.get(Collection.Sessions, 'chat')).toEqual({ turns: ['kept'] });
    expect(await second.list(Collection.Sessions)).toEqual(['chat']);
  });

  it.each([
    ['truncated JSON', '{"turns": ["hi", "th'],
    ['an empty file', ''],
    ['not JSON at all', 'turns=hi'],
  ])('a file holding %s is STORE_CORRUPT naming the file and the parse error', async (_, text) => {
    const dir = await freshDir();
    await mkdir(join(dir, 'sessions'));
    const file = join(dir, 'sessions', 'chat.json');
    await writeFile(file, text);
    await using store = new FileStore({ dataDir: dir });
    const error = await rejectionOf(store.get(Collection.Sessions, 'chat'));
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT', file });
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.message).toBe(`corrupt store file ${file}: ${(error.cause as Error).message}`);
    // A corrupt value is still listed (it exists) and can be repaired by a put.
    expect(await store.list(Collection.Sessions)).toEqual(['chat']);
    await store.put(Collection.Sessions, 'chat', { repaired: true });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ repaired: true });
  });

  it('removes stale temporary files on first use and never lists them or foreign files', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, 'sessions'));
    await mkdir(join(dir, 'tools'));
    await writeFile(join(dir, 'sessions', 'chat.json'), '{"n":1}\n');
    await writeFile(join(dir, 'sessions', '.chat.0f1e2d3c.tmp'), '{"n":2, "half-wri');
    await writeFile(join(dir, 'sessions', '.other.aaaa.tmp'), '');
    await writeFile(join(dir, 'tools', '.t.bbbb.tmp'), '{}');
    await writeFile(join(dir, 'sessions', 'README'), 'not ours');
    await writeFile(join(dir, 'sessions', 'bad name.json'), '{}');
    await using store = new FileStore({ dataDir: dir });
    expect(await store.list(Collection.Sessions)).toEqual(['chat']);
    expect((await readdir(join(dir, 'sessions'))).sort()).toEqual(['README', 'bad name.json', 'chat.json']);
    expect(await readdir(join(dir, 'tools'))).toEqual([]);
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 1 });
  });

  it('a put aborted while it waits behind another on its key is skipped; the chain goes on', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    const first = store.put(Collection.Sessions, 'chat', { n: 1 });
    const controller = new AbortController();
    const second = store.put(Collection.Sessions, 'chat', { n: 2 }, { signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toMatchObject({ code: 'ABORTED', message: 'store put sessions/chat was aborted' });
    await first;
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 1 });
    await store.put(Collection.Sessions, 'chat', { n: 3 });
    expect(await store.get(Collection.Sessions, 'chat')).toEqual({ n: 3 });
  });

  it('an fs failure is STORE_WRITE_FAILED with the path; the store recovers once the cause is gone', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'sessions'), 'a file where the collection directory should be');
    await using store = new FileStore({ dataDir: dir });
    const error = await rejectionOf(store.put(Collection.Sessions, 'chat', { n: 1 }));
    expect(error).toBeInstanceOf(StoreWriteError);
    expect(error).toMatchObject({ code: 'STORE_WRITE_FAILED', path: join(dir, 'sessions') });
    expect(error.message).toMatch(`store write failed at ${join(dir, 'sessions')}: EEXIST`);
    await rm(join(dir, 'sessions'));
    await store.put(Collection.Sessions, 'chat', { n: 1 });
    expect((await stat(join(dir, 'sessions', 'chat.json'))).isFile()).toBe(true);
  });

  it('refuses a missing or empty dataDir at construction', () => {
    expect(() => new FileStore({ dataDir: '' })).toThrow(InvalidArgumentError);
    expect(() => new FileStore({} as { dataDir: string })).toThrow('FileStore dataDir must be a non-empty path, got undefined');
  });
});
