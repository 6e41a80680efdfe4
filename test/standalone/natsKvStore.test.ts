/**
 * NatsKvStore beyond the store contract (stores.test.ts runs that over it): the key mapping, two
 * stores (two front ends) on one bucket, the bucket's options, values other programs put in the
 * bucket, and what a caller sees when nats-server goes away: a typed error within the timeout,
 * never a hang. Every test runs a real nats-server with JetStream.
 */
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { natsKvKey, storeKeyOfNatsKv } from '../../src/entities/store/natsKvKeys.js';
import { NatsKvStore } from '../../src/entities/store/NatsKvStore.js';
import {
  StoreConflictError,
  StoreCorruptError,
  StoreIoError,
  StoreUnavailableError,
  StoreWriteError,
} from '../../src/entities/store/storeErrors.js';
import { InvalidArgumentError } from '../../src/messaging/errors.js';
import { NatsServer } from './helpers/natsServer.js';

let server: NatsServer;
const connections: NatsConnection[] = [];
const stores: NatsKvStore[] = [];
let buckets = 0;

beforeAll(async () => {
  server = await NatsServer.start(undefined, { jetStream: true });
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.dispose()));
  await Promise.all(connections.splice(0).map((nc) => nc.close()));
});
afterAll(async () => {
  await server.stop({ removeStore: true });
});

async function connection(): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
  connections.push(nc);
  return nc;
}

function store(nc: NatsConnection, options: Partial<ConstructorParameters<typeof NatsKvStore>[0]> = {}): NatsKvStore {
  const made = new NatsKvStore({ connection: nc, bucket: `kv-${++buckets}`, ...options });
  stores.push(made);
  return made;
}

/** Rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

/** A valid store key: 1–128 of [A-Za-z0-9._:-], no '..', no leading '.'. */
const storeKey = fc
  .string({ unit: fc.constantFrom(...'aZ09._:-'), minLength: 1, maxLength: 128 })
  .filter((key) => !key.includes('..') && !key.startsWith('.'));

describe('NatsKvStore keys', () => {
  it('every valid store key round-trips through a valid KV key, and no two meet in one', () => {
    fc.assert(
      fc.property(storeKey, storeKey, storeKey, storeKey, (c1, i1, c2, i2) => {
        const key = natsKvKey(c1, i1);
        expect(key).toMatch(/^[-/=\w]+\.[-/=\w]+$/); // two tokens of what KV keys allow, no trailing '.'
        expect(storeKeyOfNatsKv(key)).toEqual({ collection: c1, id: i1 });
        if (c1 !== c2 || i1 !== i2) expect(natsKvKey(c2, i2)).not.toBe(key);
      }),
      { numRuns: 2_000 },
    );
    expect(natsKvKey('sessions', 'chat:1.end.')).toBe('sessions.chat/1=end=');
  });

  it('keys the mapping never writes are not the store’s', () => {
    for (const key of ['one', 'a.b.c', 'a.', '=x.y', 'a.=b', 'a.b==c', `a.${'x'.repeat(129)}`]) expect(storeKeyOfNatsKv(key)).toBeUndefined();
  });

  it('stores and lists keys with every character the rules allow, beside a foreign key', async () => {
    const nc = await connection();
    const kvStore = store(nc);
    await kvStore.put('sessions', 'chat:1', 1);
    await kvStore.put('sessions', 'chat.1', 2);
    await kvStore.put('sessions', 'chat-1_', 3);
    await kvStore.put('sessions.x', 'chat', 4);
    const kv = await new Kvm(nc).open(kvStore.bucket);
    await kv.put('sessions.a.b', 'another program’s');
    await kv.put('sessions', 'no id token');
    expect(await kvStore.list('sessions')).toEqual(['chat-1_', 'chat.1', 'chat:1']);
    expect(await kvStore.list('sessions.x')).toEqual(['chat']);
    expect(await kvStore.get('sessions', 'chat.1')).toBe(2);
  });
});

describe('NatsKvStore shared by two front ends', () => {
  it('two stores on one bucket see each other’s writes; a stale update is STORE_CONFLICT', async () => {
    const [a, b] = [store(await connection(), { bucket: 'shared-1' }), store(await connection(), { bucket: 'shared-1' })];
    const created = await a.update('sessions', 'chat', { turns: ['a1'] }, 0);
    const seen = await b.getEntry<{ turns: string[] }>('sessions', 'chat');
    expect(seen).toEqual({ value: { turns: ['a1'] }, revision: created });
    const next = await b.update('sessions', 'chat', { turns: ['a1', 'b1'] }, created);
    const error = await rejectionOf(a.update('sessions', 'chat', { turns: ['a1', 'a2'] }, created));
    expect(error).toBeInstanceOf(StoreConflictError);
    expect(error.message).toBe(`store update sessions/chat: expected revision ${created}, found revision ${next}`);
    expect(await a.get('sessions', 'chat')).toEqual({ turns: ['a1', 'b1'] });
    expect(await a.list('sessions')).toEqual(['chat']);
    expect(await b.delete('sessions', 'chat')).toBe(true);
    expect(await a.get('sessions', 'chat')).toBeUndefined();
    expect(await a.delete('sessions', 'chat')).toBe(false);
  });

  it('creates a missing bucket with the options given; an existing one is used as it is', async () => {
    const nc = await connection();
    const kvStore = store(nc, { bucket: 'options-1', history: 5, ttlMs: 60_000, storage: 'memory' });
    await kvStore.put('sessions', 'chat', 1);
    const status = await (await new Kvm(nc).open('options-1')).status();
    expect(status).toMatchObject({ history: 5, ttl: 60_000, storage: 'memory', replicas: 1 });
    const again = store(nc, { bucket: 'options-1', history: 1 });
    expect(await again.get('sessions', 'chat')).toBe(1);
    expect((await (await new Kvm(nc).open('options-1')).status()).history).toBe(5);
  });

  it('a value another program put that is not JSON is STORE_CORRUPT naming the entry; still listed, repaired by a put', async () => {
    const nc = await connection();
    const kvStore = store(nc);
    await kvStore.put('sessions', 'other', 1); // opens (creates) the bucket
    await (await new Kvm(nc).open(kvStore.bucket)).put('sessions.chat', '{"turns": ["hi", "th');
    const error = await rejectionOf(kvStore.get('sessions', 'chat'));
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT', file: `nats-kv://${kvStore.bucket}/sessions.chat` });
    expect(error.message).toMatch(new RegExp(`^corrupt store entry nats-kv://${kvStore.bucket}/sessions\\.chat: `));
    expect(await kvStore.list('sessions')).toEqual(['chat', 'other']);
    await kvStore.put('sessions', 'chat', { repaired: true });
    expect(await kvStore.get('sessions', 'chat')).toEqual({ repaired: true });
  });

  it('a value over the server’s max_payload is STORE_WRITE_FAILED with both sizes; nothing is stored', async () => {
    const nc = await connection();
    const kvStore = store(nc);
    const limit = nc.info!.max_payload;
    const error = await rejectionOf(kvStore.put('sessions', 'big', 'x'.repeat(limit)));
    expect(error).toBeInstanceOf(StoreWriteError);
    expect(error.message).toBe(
      `store write failed at nats-kv://${kvStore.bucket}/sessions.big: MAX_PAYLOAD: the value is ${limit + 2} bytes, over nats-server's max_payload of ${limit} bytes (store put sessions/big)`,
    );
    expect(await kvStore.get('sessions', 'big')).toBeUndefined();
  });

  it('a listing in flight when the store is disposed rejects with STORE_DISPOSED, never a partial list', async () => {
    const kvStore = store(await connection());
    await Promise.all(Array.from({ length: 50 }, (_, i) => kvStore.put('sessions', `s${i}`, i)));
    const listing = rejectionOf(kvStore.list('sessions'));
    await kvStore.dispose();
    expect(await listing).toMatchObject({ code: 'STORE_DISPOSED', message: `NatsKvStore(${kvStore.bucket}) is disposed` });
  });

  it('refuses bad options at construction', async () => {
    expect(() => new NatsKvStore({ connection: undefined as never })).toThrow(InvalidArgumentError);
    const nc = await connection();
    expect(() => new NatsKvStore({ connection: nc, bucket: 'a.b' })).toThrow('NatsKvStore bucket must match [A-Za-z0-9_-]+, got "a.b"');
    expect(() => new NatsKvStore({ connection: nc, timeoutMs: 0 })).toThrow('NatsKvStore timeoutMs must be positive, got 0');
    expect(() => new NatsKvStore({ connection: nc, history: 0 })).toThrow('NatsKvStore history must be a positive integer, got 0');
  });
});

describe('NatsKvStore when nats-server is gone', () => {
  it('a closed connection: every call is STORE_UNAVAILABLE at once, naming the call and the server', async () => {
    const nc = await connection();
    const kvStore = store(nc);
    await kvStore.put('sessions', 'chat', 1);
    await nc.close();
    const started = Date.now();
    for (const [call, operation] of [
      [kvStore.get('sessions', 'chat'), 'get sessions/chat'],
      [kvStore.put('sessions', 'chat', 2), 'put sessions/chat'],
      [kvStore.update('sessions', 'chat', 2, 1), 'update sessions/chat'],
      [kvStore.list('sessions'), 'list sessions'],
    ] as const) {
      const error = await rejectionOf(call);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error.message).toMatch(`store ${operation}: the NATS connection to 127.0.0.1:${server.port} is closed`);
    }
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a server that stopped answering: calls fail within timeoutMs, an aborted read at once; after a restart they succeed', async () => {
    const nc = await connection();
    const kvStore = store(nc, { timeoutMs: 600 });
    await kvStore.put('sessions', 'chat', { n: 1 });
    await server.stop();
    try {
      const started = Date.now();
      const [get, put, list] = await Promise.all([
        rejectionOf(kvStore.get('sessions', 'chat')),
        rejectionOf(kvStore.put('sessions', 'chat', { n: 2 })),
        rejectionOf(kvStore.list('sessions')),
      ]);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(2_000);
      expect(get).toBeInstanceOf(StoreUnavailableError);
      expect(get.message).toBe(
        `store get sessions/chat: nats-server at 127.0.0.1:${server.port} gave no answer within 600 ms (nats-kv://${kvStore.bucket}/sessions.chat)`,
      );
      expect(put.message).toMatch(/gave no answer within 600 ms .*; whether the write was applied is unknown$/);
      expect(list).toMatchObject({ code: 'STORE_UNAVAILABLE', operation: 'list', collection: 'sessions' });

      const controller = new AbortController();
      const read = rejectionOf(kvStore.get('sessions', 'chat', { signal: controller.signal }));
      const abortedAt = Date.now();
      setTimeout(() => controller.abort(), 50);
      expect(await read).toMatchObject({ code: 'ABORTED' });
      expect(Date.now() - abortedAt).toBeLessThan(400);
    } finally {
      await server.restart();
    }
    await expect.poll(() => kvStore.get('sessions', 'chat').catch((error: Error) => error.message), { timeout: 10_000, interval: 100 }).toEqual({ n: 1 });
    await kvStore.put('sessions', 'chat', { n: 3 });
    expect(await kvStore.get('sessions', 'chat')).toEqual({ n: 3 });
  });

  it('a server without JetStream: STORE_IO_ERROR naming the bucket and what to check', async () => {
    const plain = await NatsServer.start();
    try {
      const nc = await connect({ servers: plain.url });
      connections.push(nc);
      const kvStore = store(nc, { timeoutMs: 1_000 });
      const error = await rejectionOf(kvStore.get('sessions', 'chat'));
      expect(error).toBeInstanceOf(StoreIoError);
      expect(error.message).toMatch(new RegExp(`^store open: nats-kv://${kvStore.bucket}: `));
      expect(error.message).toMatch(/JetStream|jetstream/);
    } finally {
      await plain.stop();
    }
  });
});
