import type { Logger } from 'pino';
import { AdapterContextsFullError } from './adapterErrors.js';
import { adapterSetKey } from './adapterSetKey.js';
import type { ContextPool } from './ContextPool.js';
import { NativeEngine } from './native/NativeEngine.js';
import type { AdapterContextInfo, AppliedAdapter, ModelStatus } from './types.js';

/** @internal What {@link AdapterContexts} is told by its model. */
export interface AdapterContextsOptions {
  /** Most contexts alive at once (`maxContexts`). */
  maxContexts: number;
  /** How long a context of a non-default set outlives its last lease (`adapterContextIdleMs`); 0 frees at once. */
  idleMs: number;
  /** Whether `key` is the model's adapter set now: its context is kept however idle. */
  isDefault: (key: string) => boolean;
  /** Checks the adapters against the model before a context is created for them. */
  validate: (adapters: readonly AppliedAdapter[]) => Promise<void>;
  /** A new pool for an adapter set, its context being created. */
  createPool: (adapters: readonly AppliedAdapter[]) => ContextPool;
  /** Read at each event, because the actor may get its logger after loading started. */
  logger: () => Logger | undefined;
}

/** The part of {@link ModelStatus} the contexts know. */
type ContextsUsage = Pick<ModelStatus, 'busySlots' | 'queueDepth' | 'contexts' | 'batching'>;

/**
 * @internal The contexts of a loaded model, one {@link ContextPool} per adapter set in use. A set
 * gets a context on its first request (bounded by `maxContexts`, making room by freeing an idle
 * one); a non-default set's context is freed once idle for `idleMs`. Every pool handed out by
 * {@link lease} must come back through {@link release}.
 */
export class AdapterContexts {
  private readonly pools = new Map<string, ContextPool>();
  /** Set once the model is being unloaded: idle timers then leave freeing to {@link close}. */
  private retired = false;

  /** `first` is the pool of the model's adapter set, created while loading. */
  constructor(
    first: ContextPool,
    private readonly options: AdapterContextsOptions,
  ) {
    this.pools.set(first.key, first);
  }

  /** The pool serving the set `key`, if one exists (ready or not). */
  get(key: string): ContextPool | undefined {
    return this.pools.get(key);
  }

  /**
   * Leases the pool of an adapter set, creating its context if none serves the set. Throws
   * `ADAPTER_CONTEXTS_FULL` when every context is leased and the limit is reached, or the
   * validation's or the creation's error.
   */
  async lease(adapters: readonly AppliedAdapter[]): Promise<ContextPool> {
    const key = adapterSetKey(adapters);
    const pool = this.pools.get(key) ?? (await this.create(key, adapters));
    return pool.lease();
  }

  /** Returns a lease; a context of a non-default set is then freed once idle. */
  release(pool: ContextPool): void {
    pool.release();
    this.freeWhenIdle(pool);
  }

  /** Frees `pool`'s context once idle for `idleMs`, unless it is leased, replaced or the default set. */
  freeWhenIdle(pool: ContextPool): void {
    if (pool.leased || this.pools.get(pool.key) !== pool || this.options.isDefault(pool.key)) return;
    if (this.options.idleMs === 0) {
      this.free(pool);
      return;
    }
    pool.whenIdle(this.options.idleMs, () => {
      if (!this.retired) this.free(pool);
    });
  }

  /** The pools whose context exists, described for `listAdapters`. */
  describe(estimatedBytes: number): AdapterContextInfo[] {
    return this.ready().map((pool) => ({
      adapters: pool.adapters.map((a) => ({ ...a })),
      isDefault: this.options.isDefault(pool.key),
      slots: pool.slots,
      busySlots: pool.scheduler.busy,
      queueDepth: pool.scheduler.queueDepth,
      estimatedBytes,
    }));
  }

  /** Busy slots, queued requests and contexts summed over the pools, with the native engines' decode counters. */
  usage(): ContextsUsage {
    const pools = this.ready();
    return {
      busySlots: pools.reduce((sum, pool) => sum + pool.scheduler.busy, 0),
      queueDepth: pools.reduce((sum, pool) => sum + pool.scheduler.queueDepth, 0),
      contexts: pools.length,
      ...nativeBatching(pools),
    };
  }

  /** Rejects every queued request of every pool (the model is going away). */
  rejectQueued(error: unknown): void {
    for (const pool of this.ready()) pool.scheduler.rejectAll(error);
  }

  /** From now on no idle timer frees a context: the unload frees them all with {@link close}. */
  retire(): void {
    this.retired = true;
  }

  /** Frees every context, one after the other. Call it once no slot is leased. */
  async close(): Promise<void> {
    this.retired = true;
    for (const pool of this.pools.values()) await pool.dispose();
    this.pools.clear();
  }

  private ready(): ContextPool[] {
    return [...this.pools.values()].filter((pool) => pool.isReady);
  }

  /** Registers a new pool for `adapters`, freeing an idle one first if the limit is reached. */
  private async create(key: string, adapters: readonly AppliedAdapter[]): Promise<ContextPool> {
    const limit = this.options.maxContexts;
    if (this.pools.size >= limit) {
      // Make room by freeing an idle context of a set nobody uses now.
      const idle = [...this.pools.values()].find((p) => !p.leased && !this.options.isDefault(p.key));
      if (!idle) throw new AdapterContextsFullError(this.pools.size, limit);
      this.free(idle);
    }
    await this.options.validate(adapters);
    // Validation awaited: another request may have created the pool meanwhile.
    const existing = this.pools.get(key);
    if (existing) return existing;
    const pool = this.options.createPool(adapters);
    this.pools.set(key, pool);
    pool.ready.catch(() => {
      if (this.pools.get(key) === pool) this.pools.delete(key);
    });
    this.options.logger()?.info({ adapters: adapters.map((a) => a.path), contexts: this.pools.size }, 'adapter context created');
    return pool;
  }

  /** Frees an idle pool's context (never one with a lease: no sequence is disposed mid-generation). */
  private free(pool: ContextPool): void {
    if (pool.leased) return;
    if (this.pools.get(pool.key) === pool) this.pools.delete(pool.key);
    pool.cancelIdleTimer();
    this.options.logger()?.info({ adapters: pool.adapters.map((a) => a.path), contexts: this.pools.size }, 'adapter context freed');
    void pool.dispose().catch(() => {});
  }
}

/** The native engines' decode counters, summed (absent where none serves the model). */
function nativeBatching(pools: readonly ContextPool[]): Pick<ModelStatus, 'batching'> {
  const engines = pools.map((pool) => pool.context).filter((context) => context instanceof NativeEngine);
  if (engines.length === 0) return {};
  const decodes = engines.reduce((sum, engine) => sum + engine.stats.decodes, 0);
  const tokens = engines.reduce((sum, engine) => sum + engine.stats.decodedTokens, 0);
  return { batching: { decodes, tokens } };
}
