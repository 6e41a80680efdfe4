import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelManager } from '../../src/entities/ModelManager.js';
import { SessionManager } from '../../src/entities/SessionManager.js';
import { FileStore } from '../../src/entities/store/FileStore.js';
import { MemoryStore } from '../../src/entities/store/MemoryStore.js';
import type { Store, StoreCallOptions } from '../../src/entities/store/Store.js';
import {
  StoreCorruptError,
  StoreDisposedError,
  StoreIoError,
  StoreWriteError,
} from '../../src/entities/store/storeErrors.js';
import type { SessionEntity } from '../../src/entities/types.js';
import { AbortedError } from '../../src/messaging/errors.js';
import type { MessageRouter } from '../../src/messaging/MessageRouter.js';
import { newRouter } from './fixtures.js';

const Sessions = 'sessions';
const Tools = 'tools';
/** Permission bits mean nothing to root, so the chmod cases only run as another user. */
const runningAsRoot = process.getuid?.() === 0;

/** Rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

const dirs: string[] = [];
const routers: MessageRouter[] = [];
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'llama-actors-damage-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.dispose()));
  for (const dir of dirs) await chmod(join(dir, Tools), 0o700).catch(() => undefined);
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('FileStore on a damaged data directory', () => {
  it('a collection path that is a file: reads are STORE_IO_ERROR, writes STORE_WRITE_FAILED; others work', async () => {
    const dir = await freshDir();
    const sessions = join(dir, Sessions);
    await writeFile(sessions, 'not a directory');
    await using store = new FileStore({ dataDir: dir });

    const get = await rejectionOf(store.get(Sessions, 'chat-1'));
    expect(get).toBeInstanceOf(StoreIoError);
    expect(get).toMatchObject({
      code: 'STORE_IO_ERROR',
      operation: 'get',
      collection: Sessions,
      id: 'chat-1',
      path: sessions,
      fsCode: 'ENOTDIR',
    });
    expect(get.message).toBe(`store get sessions/chat-1: ${sessions} is not a directory (ENOTDIR)`);

    const list = await rejectionOf(store.list(Sessions));
    expect(list).toBeInstanceOf(StoreIoError);
    expect(list).toMatchObject({ code: 'STORE_IO_ERROR', operation: 'list', collection: Sessions, id: undefined, path: sessions });
    expect(list.message).toBe(`store list sessions: ${sessions} is not a directory (ENOTDIR)`);

    const put = await rejectionOf(store.put(Sessions, 'chat-1', { n: 1 }));
    expect(put).toBeInstanceOf(StoreWriteError);
    expect(put).toMatchObject({ code: 'STORE_WRITE_FAILED', operation: 'put', path: sessions, fsCode: 'EEXIST' });
    expect(put.message).toBe(
      `store write failed at ${sessions}: EEXIST: ${sessions} exists and is not a directory (store put sessions/chat-1)`,
    );

    const deleted = await rejectionOf(store.delete(Sessions, 'chat-1'));
    expect(deleted).toBeInstanceOf(StoreWriteError);
    expect(deleted).toMatchObject({ code: 'STORE_WRITE_FAILED', operation: 'delete', id: 'chat-1', fsCode: 'ENOTDIR' });
    expect(deleted.message).toBe(
      `store write failed at ${join(sessions, 'chat-1.json')}: ENOTDIR: ${sessions} is not a directory (store delete sessions/chat-1)`,
    );

    await store.put(Tools, 'grep', { ok: true });
    expect(await store.get(Tools, 'grep')).toEqual({ ok: true });
    expect(await store.list(Tools)).toEqual(['grep']);
  });

  it('names the ancestor that is not a directory, even above the collection', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    await store.put(Sessions, 'chat-1', { n: 1 });
    // Replace the collection after the store made it, so its memo of the directory goes stale.
    await rm(join(dir, Sessions), { recursive: true });
    await writeFile(join(dir, Sessions), '');
    const put = await rejectionOf(store.put(Sessions, 'chat-2', { n: 2 }));
    expect(put).toMatchObject({ code: 'STORE_WRITE_FAILED', fsCode: 'ENOTDIR' });
    expect(put.message).toContain(`ENOTDIR: ${join(dir, Sessions)} is not a directory (store put sessions/chat-2)`);
    // Repaired, the next put makes the directory again.
    await rm(join(dir, Sessions));
    await store.put(Sessions, 'chat-2', { n: 2 });
    expect(await store.list(Sessions)).toEqual(['chat-2']);
  });

  it('a value file that is a directory: get is STORE_IO_ERROR (EISDIR), list skips it, writes fail typed', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    await store.put(Sessions, 'good', { n: 1 });
    const file = join(dir, Sessions, 'chat-1.json');
    await mkdir(file);

    const get = await rejectionOf(store.get(Sessions, 'chat-1'));
    expect(get).toBeInstanceOf(StoreIoError);
    expect(get).toMatchObject({ code: 'STORE_IO_ERROR', path: file, fsCode: 'EISDIR' });
    expect(get.message).toBe(`store get sessions/chat-1: ${file} is a directory (EISDIR)`);
    expect(await store.list(Sessions)).toEqual(['good']);

    const put = await rejectionOf(store.put(Sessions, 'chat-1', { n: 2 }));
    expect(put).toBeInstanceOf(StoreWriteError);
    expect(put).toMatchObject({ code: 'STORE_WRITE_FAILED', path: file });
    expect(put.message).toMatch(new RegExp(`^store write failed at ${file}: E[A-Z]+: .*\\(store put sessions/chat-1\\)$`));
    const deleted = await rejectionOf(store.delete(Sessions, 'chat-1'));
    expect(deleted).toMatchObject({ code: 'STORE_WRITE_FAILED', path: file, operation: 'delete' });
    expect(deleted.message).toContain(`(store delete sessions/chat-1)`);
    // The good value and its temporaries are untouched: the failed put cleaned up after itself.
    expect(await store.get(Sessions, 'good')).toEqual({ n: 1 });
  });

  it('lists only regular <id>.json files: directories, FIFOs, symlinks and temporaries are skipped', async () => {
    const dir = await freshDir();
    const sessions = join(dir, Sessions);
    await mkdir(sessions);
    await writeFile(join(sessions, 'a.json'), '{"n":1}');
    await mkdir(join(sessions, 'dir.json'));
    await writeFile(join(sessions, '.a.1234.tmp.json'), '{}');
    await symlink(join(sessions, 'a.json'), join(sessions, 'link.json'));
    if (process.platform !== 'win32') execFileSync('mkfifo', [join(sessions, 'fifo.json')]);
    await using store = new FileStore({ dataDir: dir });
    expect(await store.list(Sessions)).toEqual(['a']);
  });

  it.skipIf(process.platform === 'win32')('a FIFO where a value should be is STORE_IO_ERROR at once, not a hang', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, Sessions));
    const fifo = join(dir, Sessions, 'chat-1.json');
    execFileSync('mkfifo', [fifo]);
    await using store = new FileStore({ dataDir: dir });
    const get = await rejectionOf(store.get(Sessions, 'chat-1'));
    expect(get).toBeInstanceOf(StoreIoError);
    expect(get).toMatchObject({ code: 'STORE_IO_ERROR', path: fifo, fsCode: undefined });
    expect(get.message).toBe(`store get sessions/chat-1: ${fifo} is not a regular file`);
  });

  it('an unreadable value (a symlink loop, which defeats root too) is STORE_IO_ERROR (ELOOP)', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, Sessions));
    const file = join(dir, Sessions, 'loop.json');
    await symlink(file, file);
    await using store = new FileStore({ dataDir: dir });
    const get = await rejectionOf(store.get(Sessions, 'loop'));
    expect(get).toBeInstanceOf(StoreIoError);
    expect(get).toMatchObject({ code: 'STORE_IO_ERROR', path: file, fsCode: 'ELOOP' });
    expect(get.message).toBe(`store get sessions/loop: ${file} is a loop of symbolic links (ELOOP)`);
  });

  it.skipIf(runningAsRoot)('a file without read permission is STORE_IO_ERROR (EACCES)', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, Sessions));
    const file = join(dir, Sessions, 'chat-1.json');
    await writeFile(file, '{}', { mode: 0o000 });
    await using store = new FileStore({ dataDir: dir });
    const get = await rejectionOf(store.get(Sessions, 'chat-1'));
    expect(get).toMatchObject({ code: 'STORE_IO_ERROR', path: file, fsCode: 'EACCES' });
    expect(get.message).toBe(`store get sessions/chat-1: ${file} is not accessible (permission denied) (EACCES)`);
  });

  it.skipIf(runningAsRoot)('an unreadable collection directory does not stop the store opening for the others', async () => {
    const dir = await freshDir();
    await mkdir(join(dir, Tools), { mode: 0o000 });
    await using store = new FileStore({ dataDir: dir });
    await store.put(Sessions, 'chat-1', { n: 1 });
    expect(await store.get(Sessions, 'chat-1')).toEqual({ n: 1 });
    expect(await rejectionOf(store.list(Tools))).toMatchObject({ code: 'STORE_IO_ERROR', fsCode: 'EACCES' });
  });

  it('a data directory that is a file fails every call with STORE_IO_ERROR (open), until it is repaired', async () => {
    const root = await freshDir();
    const dataDir = join(root, 'data');
    await writeFile(dataDir, 'not a directory');
    await using store = new FileStore({ dataDir });
    for (const call of [store.get(Sessions, 'chat-1'), store.list(Sessions), store.put(Sessions, 'chat-1', {})]) {
      const error = await rejectionOf(call);
      expect(error).toBeInstanceOf(StoreIoError);
      expect(error).toMatchObject({ code: 'STORE_IO_ERROR', operation: 'open', path: dataDir, fsCode: 'EEXIST' });
      expect(error.message).toBe(`store open: ${dataDir} exists and is not a directory (EEXIST)`);
    }
    await rm(dataDir);
    await store.put(Sessions, 'chat-1', { n: 1 });
    expect(await store.list(Sessions)).toEqual(['chat-1']);
  });

  it('a corrupt JSON file among good ones is still listed; its get is STORE_CORRUPT, the others read', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    await store.put(Sessions, 'a', { n: 1 });
    await store.put(Sessions, 'c', { n: 3 });
    await writeFile(join(dir, Sessions, 'b.json'), '{"n": 2, "tur');
    expect(await store.list(Sessions)).toEqual(['a', 'b', 'c']);
    const error = await rejectionOf(store.get(Sessions, 'b'));
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT', file: join(dir, Sessions, 'b.json') });
    expect(await store.get(Sessions, 'c')).toEqual({ n: 3 });
  });
});

/** A pino logger whose records the test can read. */
function captureLogger() {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _encoding, callback) {
        records.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        callback();
      },
    }),
  );
  return { records, logger };
}

function session(id: string, updatedAt: number, turns = 1): SessionEntity {
  return {
    id,
    model: '@(some-model)',
    turns: Array.from({ length: turns }, (_, i) => ({ role: 'user' as const, content: `turn ${i}`, at: updatedAt })),
    createdAt: 1_000,
    updatedAt,
  };
}

/** A session manager on `store`; listing needs no model, so the model manager has no providers. */
function sessionsOn(store: Store) {
  const router = newRouter();
  routers.push(router);
  const { records, logger } = captureLogger();
  const models = new ModelManager({ router, store, providers: [] });
  return { sessions: new SessionManager({ router, store, models, logger }), records };
}

describe('SessionManager listing on a damaged store', () => {
  it('listReport returns the good sessions and reports each bad one with its code; list returns the good ones', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    await store.put(Sessions, 'old', session('old', 2_000, 3));
    await store.put(Sessions, 'new', session('new', 5_000));
    const sessionsDir = join(dir, Sessions);
    await writeFile(join(sessionsDir, 'corrupt.json'), '{"id": "corrupt", "tu');
    await store.put(Sessions, 'no-turns', { ...session('no-turns', 3_000), turns: 'none' });
    await store.put(Sessions, 'elsewhere', session('somewhere-else', 4_000));
    await store.put(Sessions, 'no-time', { ...session('no-time', 1), updatedAt: 'yesterday' });
    await store.put(Sessions, 'bare', 42);
    await mkdir(join(sessionsDir, 'dir.json'));
    const { sessions, records } = sessionsOn(store);

    const report = await sessions.listReport();
    expect(report.sessions.map((s) => s.id)).toEqual(['new', 'old']);
    expect(report.sessions[1]).toEqual({
      id: 'old',
      address: '@(session/old)',
      model: '@(some-model)',
      turns: 3,
      createdAt: 1_000,
      updatedAt: 2_000,
      active: false,
    });
    const corruptFile = join(sessionsDir, 'corrupt.json');
    expect(report.skipped).toEqual([
      { id: 'bare', code: 'INVALID_ENTITY', message: 'stored session @(bare) is not a valid session: expected an object, got number' },
      { id: 'corrupt', code: 'STORE_CORRUPT', message: expect.stringMatching(`^corrupt store file ${corruptFile}: `) },
      {
        id: 'elsewhere',
        code: 'INVALID_ENTITY',
        message: 'stored session @(elsewhere) is not a valid session: session.id is "somewhere-else", not the id it is stored under',
      },
      {
        id: 'no-time',
        code: 'INVALID_ENTITY',
        message: 'stored session @(no-time) is not a valid session: session.updatedAt must be a number, got "yesterday"',
      },
      {
        id: 'no-turns',
        code: 'INVALID_ENTITY',
        message: 'stored session @(no-turns) is not a valid session: session.turns must be an array',
      },
    ]);
    // Logged as each read finishes, so in no particular order.
    const warnings = records.filter((r) => r.level === 40);
    expect(warnings.map((r) => [r.sessionId, r.code]).sort()).toEqual(report.skipped.map((s) => [s.id, s.code]));
    expect(warnings.find((r) => r.sessionId === 'corrupt')?.msg).toBe(`session left out of the list: ${report.skipped[1]?.message}`);

    expect((await sessions.list()).map((s) => s.id)).toEqual(['new', 'old']);
  });

  it('an unreadable session (STORE_IO_ERROR from the store) is skipped too; other store errors still reject', async () => {
    const backing = new MemoryStore();
    await backing.put(Sessions, 'good', session('good', 2_000));
    await backing.put(Sessions, 'broken', session('broken', 3_000));
    let failWith: (id: string) => Error | undefined = () => undefined;
    // Only `get` misbehaves, as a damaged disk would for one file.
    const store: Store = Object.assign(Object.create(backing) as Store, {
      get: <T>(collection: string, id: string, options?: StoreCallOptions): Promise<T | undefined> => {
        const error = failWith(id);
        return error ? Promise.reject(error) : backing.get<T>(collection, id, options);
      },
    });
    const { sessions } = sessionsOn(store);
    const file = '/data/sessions/broken.json';
    const damage = { path: file, code: 'EISDIR', text: `${file} is a directory` };
    failWith = (id) => (id === 'broken' ? new StoreIoError({ operation: 'get', collection: Sessions, id }, damage) : undefined);
    expect(await sessions.listReport()).toEqual({
      sessions: [expect.objectContaining({ id: 'good' })],
      skipped: [{ id: 'broken', code: 'STORE_IO_ERROR', message: `store get sessions/broken: ${file} is a directory (EISDIR)` }],
    });

    failWith = (id) => (id === 'broken' ? new StoreDisposedError('TestStore') : undefined);
    await expect(sessions.listReport()).rejects.toBeInstanceOf(StoreDisposedError);
    failWith = (id) => (id === 'broken' ? new TypeError('a bug, not damage') : undefined);
    await expect(sessions.list()).rejects.toThrow('a bug, not damage');
    await backing.dispose();
  });

  it('a failure of the listing itself still rejects: the collection is a file, or the call is aborted', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, Sessions), '');
    await using store = new FileStore({ dataDir: dir });
    const { sessions } = sessionsOn(store);
    const error = await rejectionOf(sessions.listReport());
    expect(error).toBeInstanceOf(StoreIoError);
    expect(error.message).toBe(`store list sessions: ${join(dir, Sessions)} is not a directory (ENOTDIR)`);
    await expect(sessions.list({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
  });
});

describe('ModelManager listing on a damaged store', () => {
  it('listModels skips a corrupt or non-model entry and lists the rest', async () => {
    const dir = await freshDir();
    await using store = new FileStore({ dataDir: dir });
    const router = newRouter();
    routers.push(router);
    const { records, logger } = captureLogger();
    const models = new ModelManager({ router, store, providers: [], logger });
    await store.put('models', 'good', { id: 'good', provider: '@(local)', path: '/models/good.gguf' });
    await store.put('models', 'not-a-model', { id: 'not-a-model', hello: 'world' });
    await writeFile(join(dir, 'models', 'corrupt.json'), '{"id": "corr');
    await mkdir(join(dir, 'models', 'dir.json'));
    expect((await models.listModels()).map((m) => m.id)).toEqual(['good']);
    expect(records.filter((r) => r.level === 40)).toHaveLength(2);
  });
});
