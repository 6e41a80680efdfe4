/**
 * Time as the kernel sees it. Injected through options so that tests can drive timeouts and
 * backoff by hand; the default reads the globals at call time, so fake timers installed after
 * import still apply.
 */
export interface Clock {
  /** Milliseconds since the epoch; may have a fractional part. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: sub-millisecond wall time and the global timers. */
export const systemClock: Clock = {
  // performance.now() keeps fractions of a millisecond, which tokens/s of fast streams need.
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};
