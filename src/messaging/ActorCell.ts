import type { Logger } from 'pino';
import type { Actor, ActorSource } from './Actor.js';
import { ActorStatus, createLifecycle, LifecycleEvent, type LifecycleActor } from './actorLifecycle.js';
import type { Address } from './address.js';
import { DeadLetterReason } from './DeadLetter.js';
import { Deferred } from './Deferred.js';
import { ActorStoppedError, describe, MailboxFullError } from './errors.js';
import type { InspectionEvent } from './inspection.js';
import type { Message } from './Message.js';
import { JobQueue } from './JobQueue.js';
import { Lane, messageSpec, type Protocol } from './protocol.js';
import type { RequestJob } from './RequestJob.js';
import {
  backoffDelay,
  type ResolvedSupervisionPolicy,
  SupervisionDirective,
} from './SupervisionPolicy.js';
import { InspectionEventType } from './inspection.js';
import type { ActorContext, ActorLifecycleContext, ActorRouter, StateReporter } from './types.js';
import type { ActorError } from './errors.js';

/** @internal What a cell needs from its router. */
export interface CellHost {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  inspect(event: InspectionEvent): void;
  deadLetter(message: Message, reason: DeadLetterReason, error?: ActorError): void;
  report(error: unknown, source: string): void;
  /** The cell is stopping: the router stops routing to it. */
  detachCell(cell: ActorCell): void;
}

/** @internal Resolved per-actor settings. */
export interface CellSettings {
  mailboxSize: number;
  /** Exclusive-lane messages run at once (1: one at a time). */
  concurrency: number;
  /** Concurrent-lane messages run at once; more wait in the mailbox. */
  maxConcurrent: number;
  supervision: ResolvedSupervisionPolicy;
  stopTimeout: number;
}

/** @internal How to stop. */
export interface StopOptions {
  /** Let queued and running messages finish instead of aborting them. */
  drain: boolean;
  /** Give up waiting for handlers that ignore their signal after this many ms. */
  timeoutMs: number;
}

/**
 * @internal A registered actor's runtime: its mailbox (a bounded FIFO), the messages it is
 * running, its lifecycle and its supervision. Everything about one actor that is not the
 * actor's own code lives here.
 */
export class ActorCell {
  readonly address: Address;
  readonly logger: Logger;
  private readonly lifecycle: LifecycleActor;
  private instance: Actor;
  private instanceStarted = false;
  private restarts = 0;
  private restarting = false;
  /** Failure times inside the current restart window. */
  private failures: number[] = [];
  private backoff: { timer: unknown; wake: () => void } | undefined;

  // The mailbox, one FIFO per lane: a concurrent message never waits behind an exclusive one.
  private readonly exclusiveQueue = new JobQueue();
  private readonly concurrentQueue = new JobQueue();
  private readonly running = new Set<RequestJob>();
  /** Running jobs that hold the exclusive lane (a handler may release it early). */
  private exclusiveRunning = 0;
  private concurrentRunning = 0;
  private drainScheduled = false;
  private idleWaiters: Deferred[] = [];
  private stopping: Promise<void> | undefined;
  private draining = false;
  private readonly startedOnce = new Deferred();
  private readonly reportState: StateReporter;

  constructor(
    private readonly host: CellHost,
    readonly id: string,
    private readonly source: ActorSource,
    private readonly settings: CellSettings,
    private readonly router: ActorRouter,
    logger: Logger,
  ) {
    this.address = `@(${id})` as Address;
    this.logger = logger.child({ actor: id });
    this.lifecycle = createLifecycle();
    this.reportState = (state, detail) =>
      host.inspect({
        type: InspectionEventType.ActorState,
        actor: this.address,
        state,
        ...(detail === undefined ? {} : { detail }),
        timestamp: host.now(),
      });
    this.instance = typeof source === 'function' ? source() : source;
    // Nobody may be listening for the first start; a rejection must not become unhandled.
    this.startedOnce.promise.catch(() => {});
  }

  get status(): ActorStatus {
    return this.lifecycle.getSnapshot().value as ActorStatus;
  }

  /** Messages waiting in the mailbox, not counting running ones. */
  get waiting(): number {
    return this.exclusiveQueue.size + this.concurrentQueue.size;
  }

  get inFlight(): number {
    return this.running.size;
  }

  get canStream(): boolean {
    return typeof this.instance.stream === 'function';
  }

  /** The protocol the current instance declares, if any. */
  get protocol(): Protocol | undefined {
    return this.instance.protocol;
  }

  /** The lane a message type runs in: its protocol's declaration, else exclusive. */
  laneOf(type: string): Lane {
    const protocol = this.instance.protocol;
    return (protocol && messageSpec(protocol, type)?.lane) || Lane.Exclusive;
  }

  /** Resolves once the actor has started the first time; rejects if it stops before that. */
  get started(): Promise<void> {
    return this.startedOnce.promise;
  }

  /** Runs `onStart` the first time; failures go through supervision. */
  start(): void {
    void this.startInstance().then((ok) => {
      if (!ok) void this.restart();
    });
  }

  enqueue(job: RequestJob): void {
    const waiting = this.waiting;
    if (waiting >= this.settings.mailboxSize) {
      throw new MailboxFullError(this.id, waiting, this.settings.mailboxSize);
    }
    job.lane = this.laneOf(job.message.type);
    (job.lane === Lane.Concurrent ? this.concurrentQueue : this.exclusiveQueue).push(job);
    this.scheduleDrain();
  }

  /** Takes a queued job out (its caller gave up before it ran). */
  remove(job: RequestJob): void {
    if (job.state !== 'queued') return;
    (job.lane === Lane.Concurrent ? this.concurrentQueue : this.exclusiveQueue).cancel(job);
  }

  /**
   * A running exclusive job gives up the lane (`context.releaseLane()`): the next exclusive message
   * starts while this one finishes its reply or stream beside it.
   */
  releaseLane(job: RequestJob): void {
    if (job.state !== 'running' || job.lane !== Lane.Exclusive) return;
    job.lane = Lane.Concurrent;
    this.exclusiveRunning--;
    this.concurrentRunning++;
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // A microtask hop keeps handlers from running inside their sender's call stack.
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private accepting(): boolean {
    const status = this.status;
    return status === ActorStatus.Running || (status === ActorStatus.Stopping && this.draining);
  }

  private drain(): void {
    // The exclusive lane first: a turn that arrived before a read of its state (messages queued
    // while the actor was starting) begins, and sets up what it sets up synchronously, before the read runs.
    while (this.exclusiveRunning < this.settings.concurrency && this.accepting()) {
      const job = this.exclusiveQueue.shift();
      if (!job) break;
      this.run(job);
    }
    while (this.concurrentRunning < this.settings.maxConcurrent && this.accepting()) {
      const job = this.concurrentQueue.shift();
      if (!job) break;
      this.run(job);
    }
    this.notifyIdle();
  }

  /** The next queued job of either lane (for failing them all on stop). */
  private shift(): RequestJob | undefined {
    return this.concurrentQueue.shift() ?? this.exclusiveQueue.shift();
  }

  private run(job: RequestJob): void {
    job.state = 'running';
    this.running.add(job);
    if (job.lane === Lane.Concurrent) this.concurrentRunning++;
    else this.exclusiveRunning++;
    const context: ActorContext = {
      self: this.address,
      message: job.message,
      signal: job.controller.signal,
      logger: this.logger,
      router: this.router,
      reportState: this.reportState,
      releaseLane: () => this.releaseLane(job),
    };
    job.execute(this.instance, context).then(
      () => this.finished(job, undefined, false),
      (error: unknown) => this.finished(job, error, true),
    );
  }

  private finished(job: RequestJob, error: unknown, failed: boolean): void {
    job.state = 'done';
    this.running.delete(job);
    if (job.lane === Lane.Concurrent) this.concurrentRunning--;
    else this.exclusiveRunning--;
    if (failed && !job.failedAfterAbort) this.supervise(error);
    if (this.running.size === 0) this.notifyIdle();
    if (this.accepting() && this.waiting > 0) this.drain();
  }

  private notifyIdle(): void {
    if (this.running.size > 0 || this.idleWaiters.length === 0) return;
    if (this.draining && this.waiting > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Resolves when no handler is running (and, while draining, the mailbox is empty). */
  private whenIdle(): Promise<void> {
    if (this.running.size === 0 && !(this.draining && this.waiting > 0)) return Promise.resolve();
    const waiter = new Deferred();
    this.idleWaiters.push(waiter);
    return waiter.promise;
  }

  private decide(error: unknown): SupervisionDirective {
    try {
      return this.settings.supervision.decide(error);
    } catch (decideError) {
      this.host.report(decideError, 'supervision decide()');
      return SupervisionDirective.Restart;
    }
  }

  private supervise(error: unknown): void {
    const directive = this.decide(error);
    this.host.inspect({
      type: InspectionEventType.ActorFailed,
      actor: this.address,
      error,
      directive,
      timestamp: this.host.now(),
    });
    const log = directive === SupervisionDirective.Resume ? this.logger.debug : this.logger.error;
    log.call(this.logger, { err: error, directive }, 'actor handler failed');
    if (directive === SupervisionDirective.Stop) {
      void this.stop(new ActorStoppedError(this.id, `failed: ${describe(error)}`), {
        drain: false,
        timeoutMs: this.settings.stopTimeout,
      });
    } else if (directive === SupervisionDirective.Restart) {
      void this.restart();
    }
  }

  /** Restart loop: budget check, wait for in-flight work, onStop, backoff, fresh start. */
  private async restart(): Promise<void> {
    if (this.restarting || this.stopping) return;
    this.restarting = true;
    try {
      for (;;) {
        this.lifecycle.send({ type: LifecycleEvent.Failed });
        const now = this.host.now();
        const { maxRestarts, withinMs } = this.settings.supervision;
        this.failures = this.failures.filter((at) => now - at < withinMs);
        this.failures.push(now);
        if (this.failures.length > maxRestarts) {
          void this.stop(
            new ActorStoppedError(
              this.id,
              `restart budget exhausted: ${this.failures.length} failures within ${withinMs} ms, limit ${maxRestarts} restarts`,
            ),
            { drain: false, timeoutMs: this.settings.stopTimeout },
          );
          return;
        }
        // Other messages still running finish on the old instance before it is stopped.
        await this.whenIdle();
        if (this.stopping) return;
        await this.stopInstance();
        const attempt = this.failures.length;
        const delayMs = backoffDelay(this.settings.supervision, attempt);
        this.host.inspect({
          type: InspectionEventType.ActorRestarting,
          actor: this.address,
          attempt,
          delayMs,
          timestamp: now,
        });
        this.logger.warn({ attempt, delayMs }, 'restarting actor');
        await this.sleep(delayMs);
        if (this.stopping) return;
        this.restarts++;
        if (typeof this.source === 'function') this.instance = this.source();
        if (await this.startInstance()) return;
      }
    } finally {
      this.restarting = false;
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

  private lifecycleContext(): ActorLifecycleContext {
    return {
      self: this.address,
      logger: this.logger,
      router: this.router,
      restarts: this.restarts,
      reportState: this.reportState,
    };
  }

  /** Runs `onStart`; true when the actor is now running. */
  private async startInstance(): Promise<boolean> {
    try {
      await this.instance.onStart?.(this.lifecycleContext());
    } catch (error) {
      this.host.inspect({
        type: InspectionEventType.ActorFailed,
        actor: this.address,
        error,
        directive: SupervisionDirective.Restart,
        timestamp: this.host.now(),
      });
      this.logger.error({ err: error }, 'actor onStart failed');
      return false;
    }
    this.instanceStarted = true;
    if (this.stopping) {
      // Stopped while starting: the stop sequence is waiting to call onStop.
      return true;
    }
    this.lifecycle.send({ type: LifecycleEvent.Started });
    this.host.inspect({
      type: InspectionEventType.ActorStarted,
      actor: this.address,
      restarts: this.restarts,
      timestamp: this.host.now(),
    });
    this.startedOnce.resolve();
    this.drain();
    return true;
  }

  private async stopInstance(): Promise<void> {
    if (!this.instanceStarted) return;
    this.instanceStarted = false;
    try {
      await this.instance.onStop?.(this.lifecycleContext());
    } catch (error) {
      this.host.report(error, `onStop of ${this.address}`);
    }
  }

  /**
   * Stops the actor for good. Abort mode fails queued messages with `error` (and sends them to
   * dead letters) and aborts running ones; drain mode lets both finish. Either way `onStop` runs
   * once the handlers have returned, or after `timeoutMs` for handlers that ignore their signal.
   */
  stop(error: ActorStoppedError, options: StopOptions): Promise<void> {
    this.stopping ??= this.runStop(error, options);
    return this.stopping;
  }

  private async runStop(error: ActorStoppedError, { drain, timeoutMs }: StopOptions): Promise<void> {
    this.draining = drain;
    this.lifecycle.send({ type: LifecycleEvent.Stop });
    this.host.detachCell(this);
    this.backoff?.wake();
    if (this.backoff) this.host.clearTimer(this.backoff.timer);
    if (drain) this.drain();
    else {
      this.failQueued(error);
      for (const job of [...this.running]) job.cancel(error);
    }
    let timer: unknown;
    const gaveUp = await Promise.race([
      this.whenIdle().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = this.host.setTimer(() => resolve(true), timeoutMs);
      }),
    ]);
    this.host.clearTimer(timer);
    if (gaveUp) {
      this.logger.warn(
        { running: this.running.size, timeoutMs },
        'handlers still running after stop timeout; stopping anyway',
      );
    }
    this.draining = false;
    this.failQueued(error);
    await this.stopInstance();
    this.lifecycle.send({ type: LifecycleEvent.Stopped });
    this.startedOnce.reject(error);
    this.host.inspect({
      type: InspectionEventType.ActorStopped,
      actor: this.address,
      reason: error.message,
      timestamp: this.host.now(),
    });
    this.lifecycle.stop();
  }

  private failQueued(error: ActorStoppedError): void {
    for (let job = this.shift(); job; job = this.shift()) {
      job.state = 'done';
      job.fail(error);
      this.host.deadLetter(job.message, DeadLetterReason.ActorStopped, error);
    }
  }
}
