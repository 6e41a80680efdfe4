import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';
import type { NativeEngine } from './native/NativeEngine.js';
import type { NativeSlot } from './native/NativeSlot.js';
import { SlotScheduler } from './SlotScheduler.js';
import type { AppliedAdapter } from './types.js';

/** @internal What a slot's KV cache belongs to, for session affinity. */
export interface SlotOwner {
  session: string | undefined;
  lastUsed: number;
}

/** @internal What serves a pool: a node-llama-cpp context or the native engine. */
export type PoolContext = LlamaContext | NativeEngine;
/** @internal One slot of a pool: a node-llama-cpp sequence or a native engine's sequence. */
export type PoolSlot = LlamaContextSequence | NativeSlot;

interface PoolState {
  context: PoolContext;
  scheduler: SlotScheduler<PoolSlot>;
  owners: Map<PoolSlot, SlotOwner>;
}

/**
 * @internal One llama.cpp context and its slots, serving one adapter set. node-llama-cpp applies
 * LoRA adapters to a whole context, not to a sequence, so every adapter set in use gets a context
 * of its own; requests for the same set share its slots and therefore its batches.
 *
 * The pool exists (and counts leases) from the moment it is asked for; its context arrives when
 * `ready` resolves.
 */
export class ContextPool {
  /** Requests holding or waiting for this pool (its creation included). The context is freed only at 0. */
  leases = 0;
  /** Pending "free when still idle" timer. */
  idleTimer: unknown;
  /** Resolves with the pool once its context and sequences exist; rejects with the creation error. */
  readonly ready: Promise<ContextPool>;
  private state: PoolState | undefined;

  constructor(
    readonly key: string,
    readonly adapters: readonly AppliedAdapter[],
    createContext: () => Promise<PoolContext>,
    slots: number,
    maxQueue: number,
  ) {
    this.ready = createContext().then((context) => {
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

  get context(): PoolContext {
    return this.current.context;
  }

  get scheduler(): SlotScheduler<PoolSlot> {
    return this.current.scheduler;
  }

  get owners(): Map<PoolSlot, SlotOwner> {
    return this.current.owners;
  }

  get slots(): number {
    return this.state?.owners.size ?? 0;
  }
}

/**
 * @internal The identity of an adapter set: its adapters sorted by path, with their scales. LoRA
 * updates add up, so order does not matter; `''` is the base model.
 */
export function adapterSetKey(adapters: readonly AppliedAdapter[]): string {
  return [...adapters]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((adapter) => `${adapter.path}@${adapter.scale}`)
    .join('|');
}
