import type { NativeToken } from './types.js';

/** @internal What a generation reports with each token besides its id. */
export interface NativeReport {
  /** The token's probability. */
  confidence: boolean;
  /** How many most likely alternatives, with their log-probabilities. */
  topLogprobs: number;
}

/** What a job's consumer gets next: a token, or the end (with an error if it failed). */
type Next = { token: NativeToken } | { end: true };

/**
 * @internal One sequence's work in the engine: input still to feed and, for a generation, the
 * tokens sampled but not yet taken by its consumer. The engine schedules a generation again only
 * while fewer than {@link NativeJob.AHEAD} tokens wait, so a consumer that stops reading stops its
 * sequence within two tokens (backpressure) without slowing the others.
 */
export class NativeJob {
  static readonly AHEAD = 2;
  /** Tokens to feed next: the prompt's remainder, then each sampled token. */
  input: number[];
  /** Tokens generated so far. */
  generated = 0;
  /** Set when the consumer went away or the caller aborted: never scheduled again. */
  cancelled = false;
  /** Set when nothing more will be produced (end of generation, limit, failure). */
  ended = false;
  error: unknown;
  private readonly queue: NativeToken[] = [];
  private waiter: ((next: Next) => void) | undefined;
  private failWaiter: ((error: unknown) => void) | undefined;

  constructor(
    readonly sequence: number,
    tokens: readonly number[],
    readonly sampler: bigint | undefined,
    readonly maxTokens: number,
    readonly report: NativeReport,
    /** For scoring: `targets[i]` is the token whose log-probability is wanted after input `i`. */
    readonly targets: ReadonlyArray<number | undefined> | undefined,
    /** Tells the engine a queued token was taken (the job may be schedulable again). */
    private readonly onTaken: () => void,
  ) {
    this.input = [...tokens];
  }

  /** Log-probabilities of a scoring job, in input order. */
  readonly logprobs: number[] = [];
  /** Inputs of a scoring job already fed. */
  fed = 0;

  /** Whether the engine may put this job's next input in a batch. */
  get schedulable(): boolean {
    return !this.cancelled && !this.ended && this.input.length > 0 && this.queue.length < NativeJob.AHEAD;
  }

  push(token: NativeToken): void {
    const waiter = this.waiter;
    if (waiter) {
      this.clearWaiter();
      waiter({ token });
    } else this.queue.push(token);
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    this.input = [];
    if (this.queue.length === 0) this.wakeAtEnd();
  }

  /** The next token, or the end once the queue is drained; rejects with the job's error. */
  next(): Promise<Next> {
    const token = this.queue.shift();
    if (token !== undefined) {
      this.onTaken();
      return Promise.resolve({ token });
    }
    if (this.ended || this.cancelled) return this.error === undefined ? Promise.resolve({ end: true }) : Promise.reject(this.error);
    return new Promise<Next>((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  /** Cancels: the consumer's pending `next` resolves with the end. */
  cancel(): void {
    this.cancelled = true;
    this.queue.length = 0;
    this.wakeAtEnd();
  }

  private wakeAtEnd(): void {
    const waiter = this.waiter;
    const fail = this.failWaiter;
    this.clearWaiter();
    if (this.error !== undefined) fail?.(this.error);
    else waiter?.({ end: true });
  }

  private clearWaiter(): void {
    this.waiter = undefined;
    this.failWaiter = undefined;
  }
}
