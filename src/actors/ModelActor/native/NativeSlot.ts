import { AbortedError } from '../../../messaging/errors.js';
import type { NativeEngine } from './NativeEngine.js';
import type { NativeSampling, NativeToken } from './types.js';

/**
 * One sequence of a {@link NativeEngine}, shaped like the part of node-llama-cpp's
 * `LlamaContextSequence` the ModelActor uses (evaluated tokens, history edits, evaluation), so a
 * slot pool can hold either.
 */
export class NativeSlot {
  /** @internal */
  handedOut = false;
  private evaluated: number[] = [];

  constructor(
    private readonly engine: NativeEngine,
    /** The llama.cpp sequence id. */
    readonly id: number,
  ) {}

  /** The tokens in this sequence's KV cache, in order. */
  get contextTokens(): readonly number[] {
    return this.evaluated;
  }

  get nextTokenIndex(): number {
    return this.evaluated.length;
  }

  /** Empties the sequence's KV cache. */
  async clearHistory(): Promise<void> {
    await this.engine.eraseFrom(this.id, 0);
    this.evaluated = [];
  }

  /** Erases the KV cache from a position to the end (the one range shape the ModelActor uses). */
  async eraseContextTokenRanges(ranges: ReadonlyArray<{ start: number; end: number }>): Promise<void> {
    for (const { start, end } of ranges) {
      if (end < this.evaluated.length) throw new Error(`only a suffix can be erased: [${start}, ${end}) of ${this.evaluated.length}`);
      await this.engine.eraseFrom(this.id, start);
      this.evaluated.length = Math.min(this.evaluated.length, start);
    }
  }

  /**
   * Feeds `tokens` after what the cache holds and yields sampled tokens until end of generation,
   * `maxTokens`, an abort of `signal` or the consumer leaving (its `finally` frees the work).
   */
  async *evaluate(tokens: readonly number[], sampling: NativeSampling, signal?: AbortSignal): AsyncGenerator<NativeToken, void> {
    const job = this.engine.startGeneration(this.id, tokens, sampling);
    const onAbort = () => this.engine.finish(job);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        const next = await job.next();
        if ('end' in next) return;
        yield next.token;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.engine.finish(job);
    }
  }

  /**
   * Feeds `tokens` after what the cache holds; returns log p(`targets[i]`) after input `i` for each
   * `i` with a target. Aborting stops at the next batch.
   */
  async score(tokens: readonly number[], targets: ReadonlyArray<number | undefined>, signal?: AbortSignal): Promise<number[]> {
    const job = this.engine.startScoring(this.id, tokens, targets);
    const onAbort = () => this.engine.finish(job);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await job.next();
      if (signal?.aborted) throw new AbortedError('score', { cause: signal.reason });
      return job.logprobs;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.engine.finish(job);
    }
  }

  /** @internal The engine decoded `token` into this sequence. */
  appendEvaluated(token: number): void {
    this.evaluated.push(token);
  }

  /** @internal The engine dropped this sequence's cache after a failed decode. */
  resetEvaluated(): void {
    this.evaluated = [];
  }
}
