const RATE_WINDOW_MS = 5_000;
const RATE_BUCKET_MS = 100;

/**
 * @internal The model's counters for `status`: generations completed, tokens generated, and the
 * token rate over the last five seconds.
 */
export class Throughput {
  /** Generations that ran to an end (cancelled ones included). */
  completed = 0;
  tokensGenerated = 0;
  /** Tokens per 100 ms bucket: O(1) per token whatever the rate, unlike a list of timestamps. */
  private readonly recent: Array<{ bucket: number; count: number }> = [];

  /** One generated token, at `now`. */
  countToken(now: number): void {
    this.tokensGenerated++;
    const bucket = Math.floor(now / RATE_BUCKET_MS);
    const last = this.recent.at(-1);
    if (last && last.bucket === bucket) last.count++;
    else {
      this.recent.push({ bucket, count: 1 });
      if (this.recent.length > RATE_WINDOW_MS / RATE_BUCKET_MS + 1) this.recent.shift();
    }
  }

  /** Tokens per second over the window ending at `now`. */
  tokensPerSecond(now: number): number {
    const oldest = Math.floor((now - RATE_WINDOW_MS) / RATE_BUCKET_MS);
    const recent = this.recent.filter((b) => b.bucket > oldest);
    const tokens = recent.reduce((sum, b) => sum + b.count, 0);
    const first = recent[0];
    // From the start of the oldest bucket with tokens to now (at least one bucket long).
    const span = first === undefined ? 0 : Math.max(now - first.bucket * RATE_BUCKET_MS, RATE_BUCKET_MS);
    return span > 0 ? (tokens * 1000) / span : 0;
  }
}
