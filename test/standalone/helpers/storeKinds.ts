/**
 * The three stores the store contract runs over (stores.test.ts, storeRevisions.test.ts):
 * MemoryStore, FileStore on a fresh temporary directory and NatsKvStore on a fresh bucket of one
 * real nats-server with JetStream per test file. {@link useStoreKinds} registers the hooks that
 * start and clean them up, so call it at the top level of the test file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { FileStore } from '../../../src/entities/store/FileStore.js';
import { MemoryStore } from '../../../src/entities/store/MemoryStore.js';
import { NatsKvStore } from '../../../src/entities/store/NatsKvStore.js';
import type { Store } from '../../../src/entities/store/Store.js';
import { NatsServer } from './natsServer.js';

export interface StoreKind {
  name: string;
  make(): Promise<Store>;
}

/** The kinds, and `freshDir()` for the file's own FileStore tests (removed after each test like the kinds' dirs). */
export function useStoreKinds(): { kinds: StoreKind[]; freshDir(): Promise<string> } {
  const dirs: string[] = [];
  const freshDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'llama-actors-store-'));
    dirs.push(dir);
    return dir;
  };
  let nats: { server: NatsServer; connection: NatsConnection } | undefined;
  let buckets = 0;
  beforeAll(async () => {
    const server = await NatsServer.start(undefined, { jetStream: true });
    nats = { server, connection: await connect({ servers: server.url }) };
  });
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  afterAll(async () => {
    await nats?.connection.close();
    await nats?.server.stop({ removeStore: true });
  });
  const kinds: StoreKind[] = [
    { name: 'MemoryStore', make: async () => new MemoryStore() },
    { name: 'FileStore', make: async () => new FileStore({ dataDir: await freshDir() }) },
    {
      name: 'NatsKvStore',
      make: async () => {
        if (!nats) throw new Error('nats-server is not started: call useStoreKinds() at the top level of the test file');
        return new NatsKvStore({ connection: nats.connection, bucket: `contract-${++buckets}` });
      },
    },
  ];
  return { kinds, freshDir };
}
