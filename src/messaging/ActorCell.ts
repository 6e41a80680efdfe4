import type { Logger } from 'pino';
import type { Actor, ActorSource } from './Actor.js';
import { ActorStatus, createLifecycle, LifecycleEvent, type LifecycleActor } from './actorLifecycle.js';
import type { Address } from './address.js';
import { DeadLetterReason } from './DeadLetter.js';
import { Deferred } from './Deferred.js';
import type { ActorError, ActorStoppedError } from './errors.js';
import { type InspectionEvent, InspectionEventType } from './inspection.js';
import { Mailbox } from './Mailbox.js';
import type { Message } from './Message.js';
import { Lane, messageSpec, type Protocol } from './protocol.js';
import type { RequestJob } from './RequestJob.js';
import { type ResolvedSupervisionPolicy, SupervisionDirective } from './SupervisionPolicy.js';
import { Supervisor } from './Supervisor.js';
import type { ActorContext, ActorLifecycleContext, ActorRouter, StateReporter } from './types.js';

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
 * @internal A registered actor's runtime: its mailbox, the messages it is running, its lifecycle
 * and its supervision. Everything about one actor that is not the actor's own code lives here; the
 * cell decides when the mailbox runs ({@link Mailbox} decides what) and the {@link Supervisor} what a
 * failure leads to.
 */
export class ActorCell {
  readonly address: Address;
  readonly logger: Logger;
  private readonly lifecycle: LifecycleActor;
  private instance: Actor;
  private instanceStarted = false;
  /** The latest `onStart` run, settled or not. */
  private startRun: Promise<boolean> | undefined;
  /** Counts starts: a lifecycle context's `fail` counts only for the start it was made for. */
  private incarnation = 0;
  /** True while `onStart` runs; a failure reported meanwhile waits in `startFailure` until it returns. */
  private starting = false;
  private startFailure: { error: unknown } | undefined;
  private readonly mailbox: Mailbox;
  private readonly supervisor: Supervisor;
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
    this.mailbox = new Mailbox(id, settings);
    this.supervisor = this.makeSupervisor();
    // Nobody may be listening for the first start; a rejection must not become unhandled.
    this.startedOnce.promise.catch(() => {});
  }

  get status(): ActorStatus {
    return this.lifecycle.getSnapshot().value as ActorStatus;
  }

  /** Messages waiting in the mailbox, not counting running ones. */
  get waiting(): number {
    return this.mailbox.waiting;
  }

  get inFlight(): number {
    return this.mailbox.running.size;
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
      if (!ok) void this.supervisor.restart();
    });
  }

  /**
   * Queues a job in the lane its type runs in.
   *
   * @throws {MailboxFullError} when the mailbox is full.
   */
  enqueue(job: RequestJob): void {
    this.mailbox.push(job, this.laneOf(job.message.type));
    this.scheduleDrain();
  }

  /** Takes a queued job out (its caller gave up before it ran). */
  remove(job: RequestJob): void {
    this.mailbox.remove(job);
  }

  /**
   * A running exclusive job gives up the lane (`context.releaseLane()`): the next exclusive message
   * starts while this one finishes its reply or stream beside it.
   */
  releaseLane(job: RequestJob): void {
    if (this.mailbox.release(job)) this.scheduleDrain();
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
    let job: RequestJob | undefined;
    while (this.accepting() && (job = this.mailbox.nextExclusive())) this.run(job);
    while (this.accepting() && (job = this.mailbox.nextConcurrent())) this.run(job);
    this.notifyIdle();
  }

  /** Runs a job the mailbox has just started. */
  private run(job: RequestJob): void {
    const context: ActorContext = {
      self: this.address,
      message: job.message,
      signal: job.controller.signal,
      logger: this.logger,
      router: this.router,
      reportState: this.reportState,
      releaseLane: () => this.releaseLane(job),
      waiting: () => this.mailbox.waitingExclusive(),
    };
    job.execute(this.instance, context).then(
      () => this.finished(job, undefined, false),
      (error: unknown) => this.finished(job, error, true),
    );
  }

  private finished(job: RequestJob, error: unknown, failed: boolean): void {
    this.mailbox.finish(job);
    if (failed && !job.failedAfterAbort) this.supervisor.handlerFailed(error);
    if (this.mailbox.running.size === 0) this.notifyIdle();
    if (this.accepting() && this.waiting > 0) this.drain();
  }

  private notifyIdle(): void {
    if (this.mailbox.running.size > 0 || this.idleWaiters.length === 0) return;
    if (this.draining && this.waiting > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Resolves when no handler is running (and, while draining, the mailbox is empty). */
  private whenIdle(): Promise<void> {
    if (this.mailbox.running.size === 0 && !(this.draining && this.waiting > 0)) return Promise.resolve();
    const waiter = new Deferred();
    this.idleWaiters.push(waiter);
    return waiter.promise;
  }

  /** The cell's supervisor, given only what it may do to the cell. */
  private makeSupervisor(): Supervisor {
    return new Supervisor(
      {
        id: this.id,
        address: this.address,
        logger: this.logger,
        isStopping: () => this.stopping !== undefined,
        markFailed: () => this.lifecycle.send({ type: LifecycleEvent.Failed }),
        whenIdle: () => this.whenIdle(),
        stopInstance: () => this.stopInstance(),
        startNext: () => {
          if (typeof this.source === 'function') this.instance = this.source();
          return this.startInstance();
        },
        stop: (error) => void this.stop(error, { drain: false, timeoutMs: this.settings.stopTimeout }),
      },
      this.host,
      this.settings.supervision,
    );
  }

  private lifecycleContext(): ActorLifecycleContext {
    const incarnation = this.incarnation;
    return {
      self: this.address,
      logger: this.logger,
      router: this.router,
      restarts: this.supervisor.restarts,
      reportState: this.reportState,
      fail: (error) => this.reportedFailure(incarnation, error),
    };
  }

  /** `context.fail(error)`: supervised like a handler failure, if it comes from the instance running now. */
  private reportedFailure(incarnation: number, error: unknown): void {
    if (incarnation !== this.incarnation || this.stopping) return;
    if (this.starting) this.startFailure ??= { error };
    else if (this.instanceStarted && this.status === ActorStatus.Running) this.supervisor.handlerFailed(error);
  }

  /** A start that failed: inspected and logged; false, for the caller to restart. */
  private startFailed(error: unknown, message: string): false {
    this.host.inspect({ type: InspectionEventType.ActorFailed, actor: this.address, error, directive: SupervisionDirective.Restart, timestamp: this.host.now() });
    this.logger.error({ err: error }, message);
    return false;
  }

  /** The failure reported while `onStart` ran, if any, forgotten here. */
  private takeStartFailure(): { error: unknown } | undefined {
    const reported = this.startFailure;
    this.startFailure = undefined;
    return reported;
  }

  /** The policy's directive for `error`, as the supervisor would decide it (a decider that throws means restart). */
  private decide(error: unknown): SupervisionDirective {
    try {
      return this.settings.supervision.decide(error);
    } catch (decideError) {
      this.host.report(decideError, 'supervision decide()');
      return SupervisionDirective.Restart;
    }
  }

  /** Runs `onStart`; true when the actor is now running. A stop meanwhile waits for it (see {@link runStop}). */
  private startInstance(): Promise<boolean> {
    const run = this.runStart();
    this.startRun = run;
    return run;
  }

  private async runStart(): Promise<boolean> {
    this.incarnation++;
    this.starting = true;
    this.startFailure = undefined;
    try {
      await this.instance.onStart?.(this.lifecycleContext());
    } catch (error) {
      this.starting = false;
      return this.startFailed(error, 'actor onStart failed');
    }
    this.starting = false;
    this.instanceStarted = true;
    if (this.stopping) {
      // Stopped while starting: the stop sequence is waiting to call onStop.
      return true;
    }
    const reported = this.takeStartFailure();
    // Failed before it could run: a failed start, but one whose onStop will run (it did start).
    if (reported && this.decide(reported.error) === SupervisionDirective.Restart) return this.startFailed(reported.error, 'actor failed while starting');
    this.lifecycle.send({ type: LifecycleEvent.Started });
    this.host.inspect({
      type: InspectionEventType.ActorStarted,
      actor: this.address,
      restarts: this.supervisor.restarts,
      timestamp: this.host.now(),
    });
    this.startedOnce.resolve();
    this.drain();
    // Resume or stop, as the policy decides (again) for the failure reported during onStart.
    if (reported) this.supervisor.handlerFailed(reported.error);
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
    this.supervisor.cancelBackoff();
    if (drain) this.drain();
    else {
      this.failQueued(error);
      for (const job of [...this.mailbox.running]) job.cancel(error);
    }
    let timer: unknown;
    // An onStart still running must finish before onStop can undo it: what it acquires (a child
    // process, a connection) would otherwise outlive the actor.
    const started = this.startRun?.catch(() => false);
    const gaveUp = await Promise.race([
      Promise.all([this.whenIdle(), started]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = this.host.setTimer(() => resolve(true), timeoutMs);
      }),
    ]);
    this.host.clearTimer(timer);
    if (gaveUp) {
      this.logger.warn(
        { running: this.mailbox.running.size, timeoutMs },
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
    for (let job = this.mailbox.takeQueued(); job; job = this.mailbox.takeQueued()) {
      job.state = 'done';
      job.fail(error);
      this.host.deadLetter(job.message, DeadLetterReason.ActorStopped, error);
    }
  }
}
