/** Options of {@link SessionAffinity}. */
export interface SessionAffinityOptions {
  /** Sessions remembered at most; the least recently routed is forgotten first. Defaults to `10_000`. */
  maxSessions?: number;
}

/**
 * Which worker served each session last, for session-aware routing: a bounded map, least recently
 * routed session forgotten first (a forgotten session only loses its preference, not its history,
 * which every request carries).
 *
 * @example
 * ```ts
 * const affinity = new SessionAffinity({ maxSessions: 1_000 });
 * affinity.record('chat-1', 'worker-a');
 * affinity.lastWorker('chat-1'); // 'worker-a'
 * ```
 */
export class SessionAffinity {
  private readonly last = new Map<string, string>();
  private readonly maxSessions: number;

  constructor(options: SessionAffinityOptions = {}) {
    this.maxSessions = Math.max(1, options.maxSessions ?? 10_000);
  }

  /** The worker that served `session` last, if remembered. */
  lastWorker(session: string | undefined): string | undefined {
    return session === undefined ? undefined : this.last.get(session);
  }

  /** Records that `worker` serves `session` now. */
  record(session: string | undefined, worker: string): void {
    if (session === undefined) return;
    this.last.delete(session);
    this.last.set(session, worker);
    if (this.last.size > this.maxSessions) {
      const oldest = this.last.keys().next();
      if (!oldest.done) this.last.delete(oldest.value);
    }
  }

  /** Forgets every session a lost worker served (their next turn is routed by load). */
  forgetWorker(worker: string): void {
    for (const [session, served] of this.last) if (served === worker) this.last.delete(session);
  }

  /** Sessions remembered now. */
  get size(): number {
    return this.last.size;
  }
}
