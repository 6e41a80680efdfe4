import type { NatsConnection } from '@nats-io/transport-node';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import { NatsKvStore } from '../entities/store/NatsKvStore.js';
import { ProcessLocalCollections } from '../entities/store/ProcessLocalCollections.js';
import type { Store } from '../entities/store/Store.js';
import { EntityCollection } from '../entities/types.js';
import { type ParsedValues, stringFlag, UsageError } from './args.js';

/** Where `serve` keeps providers, models and sessions. */
export const StoreKind = {
  /** A FileStore in `--data-dir`, locked for one process. */
  File: 'file',
  /** A NatsKvStore on `--nats`'s JetStream: shared by every front end on the same bucket. */
  Nats: 'nats',
} as const;
export type StoreKind = (typeof StoreKind)[keyof typeof StoreKind];

/** `--store` and `--nats-bucket`, checked. */
export interface StoreChoice {
  kind: StoreKind;
  /** The KV bucket of a `nats` store. */
  bucket?: string;
}

export const STORE_OPTIONS = {
  store: { type: 'string' },
  'nats-bucket': { type: 'string' },
} as const;

export const STORE_FLAGS_HELP = `Store flags:
      --store KIND       where providers, models and sessions are kept: file (in --data-dir, one
                         process at a time) or nats (a JetStream key-value bucket on --nats, shared
                         by every front end using it: one session can be continued through any)
                         (default: file)
      --nats-bucket NAME the bucket of --store nats, created if missing (default: llama-actors)`;

const BUCKET = /^[A-Za-z0-9_-]{1,64}$/;

/** The store the flags ask for; a {@link UsageError} for an unknown kind, a bucket without `--store nats`, or `nats` without `--nats`. */
export function storeFlag(values: ParsedValues): StoreChoice {
  const raw = stringFlag(values, 'store') ?? StoreKind.File;
  const bucket = stringFlag(values, 'nats-bucket');
  if (raw !== StoreKind.File && raw !== StoreKind.Nats) throw new UsageError(`--store must be file or nats, got ${JSON.stringify(raw)}`);
  if (raw === StoreKind.File) {
    if (bucket !== undefined) throw new UsageError('--nats-bucket needs --store nats');
    return { kind: raw };
  }
  if (stringFlag(values, 'nats') === undefined) throw new UsageError('--store nats needs --nats URL (the JetStream server that holds the bucket)');
  if (bucket !== undefined && !BUCKET.test(bucket)) throw new UsageError(`--nats-bucket must be 1-64 letters, digits, '_' or '-', got ${JSON.stringify(bucket)}`);
  return { kind: raw, ...(bucket !== undefined ? { bucket } : {}) };
}

/**
 * A NatsKvStore on `connection` for a `nats` choice, with this process's model-load markers kept in
 * memory (see {@link ProcessLocalCollections}); `undefined` for `file` (the runtime makes its FileStore).
 */
export function openChosenStore(choice: StoreChoice, connection: NatsConnection | undefined): Store | undefined {
  if (choice.kind !== StoreKind.Nats) return undefined;
  if (!connection) throw new UsageError('--store nats needs --nats URL');
  const shared = new NatsKvStore({ connection, ...(choice.bucket !== undefined ? { bucket: choice.bucket } : {}) });
  return new ProcessLocalCollections(shared, new MemoryStore(), [EntityCollection.ModelLoads]);
}
