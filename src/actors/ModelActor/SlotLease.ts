import type { Token } from 'node-llama-cpp';
import type { Clock } from '../../messaging/Clock.js';
import { Deferred } from '../../messaging/Deferred.js';
import type { AdapterContexts } from './AdapterContexts.js';
import type { ContextPool, PoolSlot } from './ContextPool.js';
import { prepareSlot } from './prepareSlot.js';
import type { AppliedAdapter } from './types.js';

/** @internal What a request asks a slot for. */
export interface SlotRequest {
  adapters: readonly AppliedAdapter[];
  /** Queued requests are served round-robin across keys. */
  fairnessKey: string;
  /** Aborts the wait in the queue. */
  signal: AbortSignal;
  /** The conversation whose KV cache the request continues (preferred slot), if any. */
  session: string | undefined;
  /** The tokens the request will evaluate, to pick the slot whose cache shares most of them. */
  prompt: readonly Token[];
}

/** @internal What every lease of a model shares. */
export interface SlotLeaseEnvironment {
  contexts: AdapterContexts;
  clock: Clock;
  reuseKvCache: boolean;
  /** One promise per leased slot, settled on release: the model's unload waits for all of them. */
  active: Set<Promise<unknown>>;
}

/**
 * @internal One slot of an adapter set's context, held by one request: the pool's lease, the slot
 * taken from its scheduler, and the model's record of running work, all given back together by
 * `[Symbol.asyncDispose]` whatever ended the request. Hold it with `await using` (or dispose it in
 * a `finally`), so no path can keep a slot or a context alive.
 *
 * @example
 * ```ts
 * await using lease = await SlotLease.acquire(environment, request);
 * const { evaluate, cached } = await lease.prepare(tokens);
 * ```
 */
export class SlotLease implements AsyncDisposable {
  private readonly finished = new Deferred();
  private released = false;

  private constructor(
    private readonly environment: SlotLeaseEnvironment,
    /** The adapter set's pool, leased until the release. */
    readonly pool: ContextPool,
    readonly slot: PoolSlot,
  ) {
    environment.active.add(this.finished.promise);
  }

  /**
   * Leases the pool of the request's adapter set (creating its context if need be) and waits,
   * fairly, for a free slot; the slot is then recorded as the request's session's. Rejects with
   * the pool's errors, `QUEUE_FULL`, or an abort of the request's signal (nothing is held then).
   */
  static async acquire(environment: SlotLeaseEnvironment, request: SlotRequest): Promise<SlotLease> {
    const { contexts, reuseKvCache } = environment;
    const pool = await contexts.lease(request.adapters);
    let slot: PoolSlot;
    try {
      slot = await pool.scheduler.acquire(request.fairnessKey, request.signal, (free) =>
        pool.chooseSlot(free, request.session, request.prompt, reuseKvCache),
      );
    } catch (error) {
      contexts.release(pool);
      throw error;
    }
    const lease = new SlotLease(environment, pool, slot);
    pool.claim(slot, request.session, environment.clock.now());
    return lease;
  }

  /**
   * Reuses the slot's KV cache for the prompt's shared prefix (see {@link prepareSlot}); returns the
   * tokens still to evaluate and how many were kept.
   */
  prepare(prompt: Token[], keepAtMost?: number): Promise<{ evaluate: Token[]; cached: number }> {
    return prepareSlot(this.slot, prompt, this.environment.reuseKvCache, keepAtMost);
  }

  /** Gives the slot and the pool back and tells an unload waiting for it. Idempotent. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.pool.scheduler.release(this.slot);
    this.environment.contexts.release(this.pool);
    this.environment.active.delete(this.finished.promise);
    this.finished.resolve();
  }
}
