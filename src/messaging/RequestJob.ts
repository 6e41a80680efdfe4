import type { Actor } from './Actor.js';
import type { ActorCell } from './ActorCell.js';
import { Deferred } from './Deferred.js';
import { DeadLetterReason } from './DeadLetter.js';
import { AbortedError, type ActorError, TimeoutError, toActorError } from './errors.js';
import type { Message } from './Message.js';
import { Lane } from './protocol.js';
import type { StreamChannel } from './StreamChannel.js';
import type { ActorContext } from './types.js';

/** The longest delay a timer holds (about 24.8 days); anything longer means "never". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** @internal What jobs need from the router. */
export interface JobHost {
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  deadLetter(message: Message, reason: DeadLetterReason, error?: ActorError, reply?: unknown): void;
  replied(cell: ActorCell, request: Message, value: unknown, error: ActorError | undefined): void;
}

/** @internal Where a job is in its life. */
export type JobState = 'queued' | 'running' | 'done' | 'cancelled';

/**
 * @internal One message in an actor's mailbox, with the caller's side of it: its timeout, its
 * abort signal and how its outcome reaches the caller. The caller is always settled by the job,
 * never by the actor, so a timeout or abort answers at once even if the handler ignores its signal.
 */
export abstract class RequestJob {
  state: JobState = 'queued';
  /** The lane it runs in; set when it enters the mailbox (a running job may release to concurrent). */
  lane: Lane = Lane.Exclusive;
  readonly controller = new AbortController();
  /**
   * True when the handler threw after its signal had fired: an actor giving up on aborted work is
   * expected behaviour, not a failure to supervise.
   */
  failedAfterAbort = false;
  private timer: unknown;
  private linkedSignal: AbortSignal | undefined;
  private onAbort: (() => void) | undefined;

  constructor(
    protected readonly host: JobHost,
    readonly cell: ActorCell,
    readonly message: Message,
  ) {}

  /** Fails the request with `TIMEOUT` after `ms` (nothing for `Infinity`, or for more than a timer can hold). */
  armTimeout(ms: number, what: string): void {
    // node fires a timer of more than 2^31 - 1 ms after 1 ms: `timeout: 1e25` would time out at once.
    if (ms > MAX_TIMER_MS) return;
    this.timer = this.host.setTimer(() => this.cancel(new TimeoutError(ms, what)), ms);
  }

  /** Fails the request with `ABORTED` when `signal` fires. */
  linkSignal(signal: AbortSignal | undefined, what: string): void {
    if (!signal) return;
    this.linkedSignal = signal;
    this.onAbort = () => this.cancel(new AbortedError(what, { cause: signal.reason }));
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Drops the timer and the signal listener once the caller has its answer. */
  protected release(): void {
    if (this.timer !== undefined) {
      this.host.clearTimer(this.timer);
      this.timer = undefined;
    }
    if (this.onAbort) {
      this.linkedSignal?.removeEventListener('abort', this.onAbort);
      this.onAbort = undefined;
    }
  }

  /** Answers the caller with `error`, fires the handler's signal and leaves the mailbox if still queued. */
  protected abortWork(error: ActorError): void {
    this.controller.abort(error);
    if (this.state === 'queued') this.cell.remove(this);
  }

  /** Runs the handler. Settles the caller; rethrows a handler failure for supervision. */
  abstract execute(actor: Actor, context: ActorContext): Promise<void>;

  /** The caller gave up (timeout, abort, cancel) or the actor is stopping while this runs. */
  abstract cancel(error: ActorError): void;

  /** The job will never run (its actor stopped first): settle the caller with `error`. */
  abstract fail(error: ActorError): void;
}

/** @internal A `tell`: nobody waits for the outcome. */
export class TellJob extends RequestJob {
  async execute(actor: Actor, context: ActorContext): Promise<void> {
    try {
      await actor.receive(this.message, context);
    } catch (error) {
      this.failedAfterAbort = this.controller.signal.aborted;
      throw error;
    }
  }

  cancel(error: ActorError): void {
    this.abortWork(error);
  }

  fail(): void {}
}

/** @internal An `ask`: the handler's return value (or error) answers the caller. */
export class AskJob extends RequestJob {
  readonly reply = new Deferred<unknown>();
  private settled = false;

  async execute(actor: Actor, context: ActorContext): Promise<void> {
    let value: unknown;
    try {
      value = await actor.receive(this.message, context);
    } catch (error) {
      this.failedAfterAbort = this.controller.signal.aborted;
      this.settle(toActorError(this.cell.id, error), undefined);
      throw error;
    }
    if (this.settled) this.host.deadLetter(this.message, DeadLetterReason.LateReply, undefined, value);
    else this.settle(undefined, value);
  }

  cancel(error: ActorError): void {
    if (this.settled) return;
    this.settle(error, undefined);
    this.abortWork(error);
  }

  fail(error: ActorError): void {
    this.settle(error, undefined);
  }

  private settle(error: ActorError | undefined, value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.release();
    this.host.replied(this.cell, this.message, value, error);
    if (error) this.reply.reject(error);
    else this.reply.resolve(value);
  }
}

/** @internal A `stream` / `streamAsk`: the handler feeds a {@link StreamChannel}. */
export class StreamJob extends RequestJob {
  channel!: StreamChannel;

  async execute(actor: Actor, context: ActorContext): Promise<void> {
    try {
      // Checked at send time; a factory could hand back an instance without it after a restart.
      if (!actor.stream) throw new TypeError('actor has no stream() method');
      await actor.stream(this.message.payload, this.channel.emit, context);
    } catch (error) {
      this.failedAfterAbort = this.controller.signal.aborted;
      this.channel.fail(toActorError(this.cell.id, error));
      throw error;
    }
    this.channel.complete();
  }

  /** The channel produced its terminal event. */
  ended(error: ActorError | undefined): void {
    this.release();
    if (error) this.abortWork(error);
  }

  cancel(error: ActorError): void {
    this.channel.fail(error);
  }

  fail(error: ActorError): void {
    this.channel.fail(error);
  }
}
