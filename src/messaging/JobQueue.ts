import type { Message } from './Message.js';
import type { RequestJob } from './RequestJob.js';

/**
 * @internal A FIFO of jobs with a moving head. A job whose caller gave up is marked cancelled and
 * skipped when reached, not spliced out: removal stays O(1) on the per-message path.
 */
export class JobQueue {
  private jobs: RequestJob[] = [];
  private head = 0;
  private cancelled = 0;

  /** Jobs waiting, not counting cancelled ones. */
  get size(): number {
    return this.jobs.length - this.head - this.cancelled;
  }

  push(job: RequestJob): void {
    this.jobs.push(job);
  }

  /** Marks a queued job as cancelled; it is skipped when its turn comes. */
  cancel(job: RequestJob): void {
    job.state = 'cancelled';
    this.cancelled++;
  }

  /** The messages of the live jobs waiting, oldest first. */
  messages(): Message[] {
    const messages: Message[] = [];
    for (let i = this.head; i < this.jobs.length; i++) {
      const job = this.jobs[i] as RequestJob;
      if (job.state === 'queued') messages.push(job.message);
    }
    return messages;
  }

  /** The next live job, or `undefined`. */
  shift(): RequestJob | undefined {
    while (this.head < this.jobs.length) {
      const job = this.jobs[this.head++] as RequestJob;
      if (job.state === 'cancelled') {
        this.cancelled--;
        continue;
      }
      // Compact once the dead prefix outweighs the live part.
      if (this.head > 1024 && this.head * 2 > this.jobs.length) {
        this.jobs = this.jobs.slice(this.head);
        this.head = 0;
      }
      return job;
    }
    this.jobs.length = 0;
    this.head = 0;
    return undefined;
  }
}
