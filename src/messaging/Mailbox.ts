import { MailboxFullError } from './errors.js';
import { JobQueue } from './JobQueue.js';
import type { Message } from './Message.js';
import { Lane } from './protocol.js';
import type { RequestJob } from './RequestJob.js';

/** @internal How much a mailbox holds and how much of it runs at once. */
export interface MailboxLimits {
  /** Jobs that may wait (not counting running ones). */
  readonly mailboxSize: number;
  /** Exclusive-lane jobs running at once (1: one at a time). */
  readonly concurrency: number;
  /** Concurrent-lane jobs running at once. */
  readonly maxConcurrent: number;
}

/**
 * @internal An actor's mailbox: one FIFO per lane, so that a concurrent message never waits behind
 * an exclusive one, bounded together, and the jobs taken out of it that are still running, counted
 * per lane. It decides what may start; when to start it is the cell's business.
 */
export class Mailbox {
  private readonly exclusiveQueue = new JobQueue();
  private readonly concurrentQueue = new JobQueue();
  private readonly runningJobs = new Set<RequestJob>();
  /** Running jobs that hold the exclusive lane (a handler may release it early). */
  private exclusiveRunning = 0;
  private concurrentRunning = 0;

  constructor(
    private readonly actorId: string,
    private readonly limits: MailboxLimits,
  ) {}

  /** Jobs waiting, not counting running ones. */
  get waiting(): number {
    return this.exclusiveQueue.size + this.concurrentQueue.size;
  }

  /** The messages waiting in the exclusive lane, oldest first (what will run after the one running). */
  waitingExclusive(): Message[] {
    return this.exclusiveQueue.messages();
  }

  /** Jobs started and not yet finished. */
  get running(): ReadonlySet<RequestJob> {
    return this.runningJobs;
  }

  /**
   * Queues `job` in `lane`.
   *
   * @throws {MailboxFullError} when `mailboxSize` jobs are waiting already.
   */
  push(job: RequestJob, lane: Lane): void {
    const waiting = this.waiting;
    if (waiting >= this.limits.mailboxSize) {
      throw new MailboxFullError(this.actorId, waiting, this.limits.mailboxSize);
    }
    job.lane = lane;
    (lane === Lane.Concurrent ? this.concurrentQueue : this.exclusiveQueue).push(job);
  }

  /** Takes a queued job out (its caller gave up before it ran). */
  remove(job: RequestJob): void {
    if (job.state !== 'queued') return;
    (job.lane === Lane.Concurrent ? this.concurrentQueue : this.exclusiveQueue).cancel(job);
  }

  /**
   * Moves a running exclusive job to the concurrent lane (`context.releaseLane()`).
   *
   * @returns `true` when it did, and the exclusive lane has room again.
   */
  release(job: RequestJob): boolean {
    if (job.state !== 'running' || job.lane !== Lane.Exclusive) return false;
    job.lane = Lane.Concurrent;
    this.exclusiveRunning--;
    this.concurrentRunning++;
    return true;
  }

  /** Starts the next exclusive job if the lane has room: it is marked running and returned. */
  nextExclusive(): RequestJob | undefined {
    if (this.exclusiveRunning >= this.limits.concurrency) return undefined;
    const job = this.exclusiveQueue.shift();
    if (job) this.begin(job);
    return job;
  }

  /** Starts the next concurrent job if the lane has room: it is marked running and returned. */
  nextConcurrent(): RequestJob | undefined {
    if (this.concurrentRunning >= this.limits.maxConcurrent) return undefined;
    const job = this.concurrentQueue.shift();
    if (job) this.begin(job);
    return job;
  }

  /** A running job's handler returned: its lane has room again. */
  finish(job: RequestJob): void {
    job.state = 'done';
    this.runningJobs.delete(job);
    if (job.lane === Lane.Concurrent) this.concurrentRunning--;
    else this.exclusiveRunning--;
  }

  /** Takes out the next queued job of either lane without starting it (to fail them all on stop). */
  takeQueued(): RequestJob | undefined {
    return this.concurrentQueue.shift() ?? this.exclusiveQueue.shift();
  }

  private begin(job: RequestJob): void {
    job.state = 'running';
    this.runningJobs.add(job);
    if (job.lane === Lane.Concurrent) this.concurrentRunning++;
    else this.exclusiveRunning++;
  }
}
