import type { Logger } from 'pino';
import type { Address } from './address.js';
import type { CellHost } from './ActorCell.js';
import { ActorStoppedError, describe } from './errors.js';
import { InspectionEventType } from './inspection.js';
import { backoffDelay, type ResolvedSupervisionPolicy, SupervisionDirective } from './SupervisionPolicy.js';

/** @internal What a {@link Supervisor} does to the cell it supervises. */
export interface SupervisedCell {
  readonly id: string;
  readonly address: Address;
  readonly logger: Logger;
  /** True once the cell has begun stopping for good: no restart may begin or go on. */
  isStopping(): boolean;
  /** Moves the lifecycle to `restarting`. */
  markFailed(): void;
  /** Resolves when no handler is running. */
  whenIdle(): Promise<void>;
  /** Runs the current instance's `onStop`, if it started. */
  stopInstance(): Promise<void>;
  /** Makes the next instance (a factory's new one, else the same) and runs its `onStart`; true when it runs. */
  startNext(): Promise<boolean>;
  /** Stops the cell for good, aborting its work. */
  stop(error: ActorStoppedError): void;
}

/**
 * @internal One actor's supervision (OTP's supervisor, for one child): asks the policy what a
 * failure means (resume, restart, stop) and runs the restart loop: budget check, wait for the
 * other running handlers, `onStop`, backoff, a fresh start, again while starts fail.
 */
export class Supervisor {
  /** Restarts so far (0 until the first). */
  restarts = 0;
  private restarting = false;
  /** Failure times inside the current restart window. */
  private failures: number[] = [];
  private backoff: { timer: unknown; wake: () => void } | undefined;

  constructor(
    private readonly cell: SupervisedCell,
    private readonly host: CellHost,
    private readonly policy: ResolvedSupervisionPolicy,
  ) {}

  /** A handler threw: inspect, log, and resume, restart or stop as the policy decides. */
  handlerFailed(error: unknown): void {
    const directive = this.decide(error);
    this.host.inspect({
      type: InspectionEventType.ActorFailed,
      actor: this.cell.address,
      error,
      directive,
      timestamp: this.host.now(),
    });
    const { logger } = this.cell;
    const log = directive === SupervisionDirective.Resume ? logger.debug : logger.error;
    log.call(logger, { err: error, directive }, 'actor handler failed');
    if (directive === SupervisionDirective.Stop) {
      this.cell.stop(new ActorStoppedError(this.cell.id, `failed: ${describe(error)}`));
    } else if (directive === SupervisionDirective.Restart) {
      void this.restart();
    }
  }

  /** Restart loop: budget check, wait for in-flight work, onStop, backoff, fresh start. */
  async restart(): Promise<void> {
    if (this.restarting || this.cell.isStopping()) return;
    this.restarting = true;
    try {
      for (;;) {
        this.cell.markFailed();
        const now = this.host.now();
        if (this.budgetExhausted(now)) return;
        // Other messages still running finish on the old instance before it is stopped.
        await this.cell.whenIdle();
        if (this.cell.isStopping()) return;
        await this.cell.stopInstance();
        const attempt = this.failures.length;
        const delayMs = backoffDelay(this.policy, attempt);
        this.host.inspect({
          type: InspectionEventType.ActorRestarting,
          actor: this.cell.address,
          attempt,
          delayMs,
          timestamp: now,
        });
        this.cell.logger.warn({ attempt, delayMs }, 'restarting actor');
        await this.sleep(delayMs);
        if (this.cell.isStopping()) return;
        this.restarts++;
        if (await this.cell.startNext()) return;
      }
    } finally {
      this.restarting = false;
    }
  }

  /** The cell is stopping: a backoff wait ends now (the loop then sees the cell stopping and gives up). */
  cancelBackoff(): void {
    const backoff = this.backoff;
    if (!backoff) return;
    // Cleared first: waking forgets the backoff, and a pending timer (up to 10 s) would keep the process alive.
    this.host.clearTimer(backoff.timer);
    backoff.wake();
  }

  /** Counts a failure at `now`; past the budget, stops the cell and returns true. */
  private budgetExhausted(now: number): boolean {
    const { maxRestarts, withinMs } = this.policy;
    this.failures = this.failures.filter((at) => now - at < withinMs);
    this.failures.push(now);
    if (this.failures.length <= maxRestarts) return false;
    this.cell.stop(
      new ActorStoppedError(
        this.cell.id,
        `restart budget exhausted: ${this.failures.length} failures within ${withinMs} ms, limit ${maxRestarts} restarts`,
      ),
    );
    return true;
  }

  private decide(error: unknown): SupervisionDirective {
    try {
      return this.policy.decide(error);
    } catch (decideError) {
      this.host.report(decideError, 'supervision decide()');
      return SupervisionDirective.Restart;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.backoff = undefined;
        resolve();
      };
      this.backoff = { timer: this.host.setTimer(wake, ms), wake };
    });
  }
}
