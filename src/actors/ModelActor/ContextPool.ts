import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';
import type { Clock } from '../../messaging/Clock.js';
import { commonPrefix } from './commonPrefix.js';
import type { NativeEngine } from './native/NativeEngine.js';
import type { NativeSlot } from './native/NativeSlot.js';
import { SlotScheduler } from './SlotScheduler.js';
import type { AppliedAdapter } from './types.js';

/** @internal What serves a pool: a node-llama-cpp context or the native engine. */
export type PoolContext = LlamaContext | NativeEngine;
/** @internal One slot of a pool: a node-llama-cpp sequence or a native engine's sequence. */
export type PoolSlot = LlamaContextSequence | NativeSlot;

/** What a slot's KV cache belongs to, for session affinity. */
interface SlotOwner {
  session: string | undefined;
  lastUsed: number;
}

interface PoolState {
  context: PoolContext;
  scheduler: SlotScheduler<PoolSlot>;
  owners: Map<PoolSlot, SlotOwner>;
}

/** @internal How a {@link ContextPool} is made. */
export interface ContextPoolOptions {
  /** The adapter set's {@link adapterSetKey}. */
  key: string;
  adapters: readonly AppliedAdapter[];
  createContext: () => Promise<PoolContext>;
  slots: number;
  maxQueue: number;
  /** Runs the idle timer. */
  clock: Clock;
}

/**
 * @internal One llama.cpp context and its slots, serving one adapter set. node-llama-cpp applies
 * LoRA adapters to a whole context, not to a sequence, so every adapter set in use gets a context
 * of its own; requests for the same set share its slots and therefore its batches.
 *
 * The pool exists (and counts leases) from the moment it is asked for; its context arrives when
 * `ready` resolves. It counts its own leases and runs its own idle timer, so that a context is
 * never freed while a request holds or waits for it: whoever frees pools asks {@link leased}.
 */
export class ContextPool {
  readonly key: string;
  readonly adapters: readonly AppliedAdapter[];
  /** Resolves with the pool once its context and sequences exist; rejects with the creation error. */
  readonly ready: Promise<ContextPool>;
  /** Requests holding or waiting for this pool (its creation included). The context is freed only at 0. */
  private leases = 0;
  /** Pending "free when still idle" timer. */
  private idleTimer: unknown;
  private readonly clock: Clock;
  private state: PoolState | undefined;

  constructor(options: ContextPoolOptions) {
    const { slots, maxQueue } = options;
    this.key = options.key;
    this.adapters = options.adapters;
    this.clock = options.clock;
    this.ready = options.createContext().then((context) => {
      const sequences: PoolSlot[] = Array.from({ length: slots }, () => context.getSequence());
      this.state = {
        context,
        scheduler: new SlotScheduler(sequences, maxQueue),
        owners: new Map(sequences.map((sequence) => [sequence, { session: undefined, lastUsed: 0 }])),
      };
      return this;
    });
    // Rejections are handled by whoever awaits `ready`; this keeps an unawaited failure quiet.
    this.ready.catch(() => {});
  }

  private get current(): PoolState {
    if (!this.state) throw new Error('context pool used before it was ready');
    return this.state;
  }

  get isReady(): boolean {
    return this.state !== undefined;
  }

  /** Whether a request holds or waits for this pool. */
  get leased(): boolean {
    return this.leases > 0;
  }

  get context(): PoolContext {
    return this.current.context;
  }

  get scheduler(): SlotScheduler<PoolSlot> {
    return this.current.scheduler;
  }

  get slots(): number {
    return this.state?.owners.size ?? 0;
  }

  /**
   * Takes a lease (cancelling a pending idle free) and resolves once the context exists. If its
   * creation fails the lease is given back here; otherwise the caller must {@link release} it.
   */
  async lease(): Promise<ContextPool> {
    this.leases++;
    this.cancelIdleTimer();
    try {
      return await this.ready;
    } catch (error) {
      this.leases--;
      throw error;
    }
  }

  /** Gives a lease back. */
  release(): void {
    this.leases--;
  }

  /**
   * Calls `onIdle` once the pool has gone `idleMs` without a lease; nothing if it is leased now or
   * a timer is already pending (a new lease cancels it).
   */
  whenIdle(idleMs: number, onIdle: () => void): void {
    if (this.leases > 0 || this.idleTimer !== undefined) return;
    this.idleTimer = this.clock.setTimeout(() => {
      this.idleTimer = undefined;
      if (this.leases === 0) onIdle();
    }, idleMs);
  }

  cancelIdleTimer(): void {
    if (this.idleTimer !== undefined) this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /**
   * Picks a free slot: the one holding this session's KV cache if free; else, among the slots no
   * other session holds (never used, or used without a session), the one whose cache shares the
   * longest prefix with the prompt (a shared system prompt, a retried request); only when every
   * free slot is another session's, the longest prefix among those. Ties go to the least recently
   * used (whose cache is the least likely to be wanted again). Another session's slot is taken
   * first only when its cache covers at least half the prompt (llama-server's default
   * `--slot-prompt-similarity`): the chat template's opening alone is shared by every
   * conversation, and preferring it sent every new session onto the first session's slot, so no
   * session kept its cache once a few were interleaved. Returns an index into `free`.
   */
  chooseSlot(free: readonly PoolSlot[], session: string | undefined, prompt: readonly Token[], reuseKvCache: boolean): number {
    const ranked = free.map((slot, index) => {
      const owner = this.owner(slot);
      const shared = reuseKvCache ? commonPrefix(slot.contextTokens, prompt) : 0;
      const similar = prompt.length > 0 && shared * 2 >= prompt.length;
      return { index, owner, shared, othersSession: owner.session !== undefined && owner.session !== session && !similar };
    });
    const own = session === undefined ? undefined : ranked.find((slot) => slot.owner.session === session);
    if (own) return own.index;
    let best: (typeof ranked)[number] | undefined;
    for (const slot of ranked) {
      const better =
        !best ||
        (best.othersSession && !slot.othersSession) ||
        (best.othersSession === slot.othersSession &&
          (slot.shared > best.shared || (slot.shared === best.shared && slot.owner.lastUsed < best.owner.lastUsed)));
      if (better) best = slot;
    }
    return best?.index ?? -1;
  }

  /** Records who now fills `slot`'s KV cache (`undefined`: no session to come back for it). */
  claim(slot: PoolSlot, session: string | undefined, now: number): void {
    const owner = this.owner(slot);
    owner.session = session;
    owner.lastUsed = now;
  }

  /** Disposes the context once it exists (a failed creation has nothing to free). */
  async dispose(): Promise<void> {
    this.cancelIdleTimer();
    const ready = await this.ready.catch(() => undefined);
    await ready?.context.dispose();
  }

  private owner(slot: PoolSlot): SlotOwner {
    const owner = this.current.owners.get(slot);
    if (!owner) throw new Error('slot of another context pool');
    return owner;
  }
}
