import type { Logger } from 'pino';
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { AbortedError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import { defaultDecider, SupervisionDirective } from '../../messaging/SupervisionPolicy.js';
import type { StreamCallback, TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import { ActorHostLostError } from '../../messaging/transport/ActorHostLostError.js';
import { ChildProcessTransport } from '../../messaging/transport/ChildProcessTransport.js';
import { RemoteActor } from '../../messaging/transport/RemoteActor.js';
import { TransportPeer } from '../../messaging/transport/TransportPeer.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions } from '../../messaging/types.js';
import { modelProtocol } from '../ModelActor/modelProtocol.js';
import { type AdapterListing, type AdapterSpec, ModelLifecycleState, ModelMessage, type ModelStatus } from '../ModelActor/types.js';
import { ModelHostCrashedError, ModelHostStartError } from './hostErrors.js';
import { describeExit, HostProcess } from './HostProcess.js';
import { registerModelWireErrors } from './modelWireErrors.js';
import { HostMessage, HostState, type HostStats, type ModelHostOptions, type ModelHostStatus } from './types.js';

/** Host deaths allowed within {@link CRASH_WINDOW_MS} before the model is given up. */
const MAX_RESTARTS = 3;
const CRASH_WINDOW_MS = 60_000;
/** How often a loading host is asked for its load progress. */
const LOAD_POLL_MS = 250;

/** Messages whose reply is the model's new adapter set: kept, so that a restarted host gets it back. */
const ADAPTER_CHANGES: ReadonlySet<string> = new Set([ModelMessage.ApplyAdapter, ModelMessage.RemoveAdapter, ModelMessage.SetAdapterScale]);

/**
 * A model served by a ModelActor in a supervised child process (a model host): the same address and
 * protocol as a ModelActor, so sessions, the tuner, the server and the CLI do not change. Every
 * message is forwarded through the kernel's transport ({@link RemoteActor}), stream chunks with
 * demand-based backpressure. A llama.cpp crash (an abort, a segfault, an out-of-memory kill) ends
 * only the host: the requests in it fail at once with `ACTOR_HOST_LOST` (503), the kernel's
 * supervision restarts the actor with backoff, and the new host loads the model and its adapter set
 * again. A host that dies more than 3 times within 60 s is given up: requests then get
 * `MODEL_HOST_CRASHED` until the model is published again.
 *
 * @example
 * ```ts
 * const model = new ModelHostActor({ model: { modelPath: 'models/demo.gguf', slots: 4 } });
 * const llm = router.ref(router.registerActor('model/demo', model, model.actorOptions), modelProtocol);
 * for await (const text of llm.stream(ModelMessage.Generate, { prompt: 'Hello' }).text) process.stdout.write(text);
 * ```
 */
export class ModelHostActor extends Actor {
  override readonly protocol = modelProtocol;
  private remote: RemoteActor | undefined;
  private peer: TransportPeer | undefined;
  private process: HostProcess | undefined;
  private logger: Logger | undefined;
  private readonly crashes: number[] = [];
  /** Host processes spawned so far: the first, then one per restart. */
  private spawns = 0;
  private startupMs: number | undefined;
  private lastExit: string | undefined;
  private lastStats: HostStats | undefined;
  private givenUp: ModelHostCrashedError | undefined;
  /** The adapter set to restore in a restarted host (`undefined`: the load options' own). */
  private adapters: AdapterSpec[] | undefined;
  private loadWatch: ReturnType<typeof setTimeout> | undefined;
  private hostId = '';
  private readonly clock: Clock;

  constructor(private readonly options: ModelHostOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    registerModelWireErrors();
  }

  /**
   * Router options: a mailbox like a ModelActor's, and supervision that restarts the actor (and so
   * its host) when the host is lost, with the kernel's backoff. The budget is this actor's own
   * (3 deaths in 60 s), one below the kernel's, so that a given-up model stays registered and
   * answers `MODEL_HOST_CRASHED` instead of vanishing.
   */
  get actorOptions(): ActorOptions {
    const slots = this.options.model.slots ?? 8;
    const maxQueue = this.options.model.maxQueue ?? 64;
    return {
      mailboxSize: Math.max(1_000, slots + maxQueue),
      supervision: {
        maxRestarts: MAX_RESTARTS + 1,
        withinMs: CRASH_WINDOW_MS,
        decide: (error) => (error instanceof ActorHostLostError ? SupervisionDirective.Restart : defaultDecider(error)),
      },
    };
  }

  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.logger = context.logger;
    if (this.givenUp ?? this.overBudget()) return;
    const id = context.self.slice(2, -1);
    this.hostId = `host/${id.slice(id.indexOf('/') + 1)}`;
    const model = { ...this.options.model, ...(this.adapters ? { adapters: this.adapters } : {}) };
    const started = performance.now();
    context.reportState(ModelLifecycleState.Loading, { model: model.modelPath, progress: 0 });
    this.spawns++;
    const host = new HostProcess({ modelId: id, hostId: this.hostId, model, logLevel: this.options.logLevel ?? 'warn' }, { logger: context.logger, ...(this.options.env ? { env: this.options.env } : {}) });
    this.process = host;
    const peer = new TransportPeer(new ChildProcessTransport(host.child), {
      logger: context.logger,
      heartbeatMs: this.options.heartbeatMs ?? 1_000,
      heartbeatTimeoutMs: this.options.heartbeatTimeoutMs ?? 10_000,
    });
    this.peer = peer;
    void host.exited.then((exit) => {
      this.lastExit = describeExit(exit);
      // A stop on purpose is no crash: only the others count against the budget.
      if (!host.stopRequested) this.crashes.push(this.clock.now());
    });
    await this.connect(peer, host, id, context);
    this.startupMs = performance.now() - started;
    this.remote = new RemoteActor(peer, id, modelProtocol);
    // The host died after it answered: fail every request in it at once (the peer does), then restart.
    peer.onLost((error) => context.fail(error));
    this.watchLoad(context, peer, model.modelPath);
  }

  /** Waits for the host's hello; a host that dies or hangs first is a start failure (the kernel retries with backoff). */
  private async connect(peer: TransportPeer, host: HostProcess, id: string, context: ActorLifecycleContext): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ModelHostStartError(id, `no answer within ${timeoutMs} ms`)), timeoutMs);
      void host.exited.then((exit) => reject(new ModelHostStartError(id, `it ${describeExit(exit)} before answering`)));
    });
    try {
      await Promise.race([peer.actors(), failed]);
    } catch (error) {
      context.logger.error({ err: error }, 'model host did not start');
      await this.stopHost();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Past the budget: gives the model up (every request gets {@link ModelHostCrashedError}). */
  private overBudget(): ModelHostCrashedError | undefined {
    const now = this.clock.now();
    const recent = this.crashes.filter((at) => now - at < CRASH_WINDOW_MS);
    if (recent.length <= MAX_RESTARTS) return undefined;
    this.givenUp = new ModelHostCrashedError(this.options.model.modelPath, recent.length, CRASH_WINDOW_MS, this.lastExit ?? 'unknown');
    this.logger?.error({ err: this.givenUp }, 'model host given up');
    return this.givenUp;
  }

  /** The host's process figures, kept as the last seen; `undefined` when it does not answer. */
  private async askStats(peer: TransportPeer, signal?: AbortSignal): Promise<HostStats | undefined> {
    // The host actor's protocol types the reply (hostProtocol); the peer's asks are untyped.
    const reply: unknown = await peer.ask(this.hostId, HostMessage.Stats, null, { timeout: 5_000, ...(signal ? { signal } : {}) }).catch(() => undefined);
    const stats = reply as HostStats | undefined;
    if (stats && peer === this.peer) this.lastStats = stats;
    return stats;
  }

  /** Reports the host's load progress as the actor's `loading` state until the model is ready or failed. */
  private watchLoad(context: ActorLifecycleContext, peer: TransportPeer, modelPath: string): void {
    const poll = async (): Promise<void> => {
      const stats = await this.askStats(peer);
      // Stopped, or a restart's host has its own watch.
      if (!stats || peer !== this.peer) return;
      const { modelState, loadProgress } = stats;
      if (modelState === ModelLifecycleState.Ready || modelState === ModelLifecycleState.Failed) {
        context.reportState(modelState, { model: modelPath });
        return;
      }
      context.reportState(ModelLifecycleState.Loading, { model: modelPath, progress: loadProgress });
      this.loadWatch = setTimeout(() => void poll(), LOAD_POLL_MS);
      this.loadWatch.unref();
    };
    void poll();
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    if (this.givenUp) {
      if (message.type === ModelMessage.Status) return this.givenUpStatus();
      throw this.givenUp;
    }
    const remote = this.connected(context);
    if (message.type === ModelMessage.Status) return this.status(message, context, remote);
    const reply = await remote.receive(message, context);
    if (ADAPTER_CHANGES.has(message.type)) {
      this.adapters = (reply as AdapterListing).applied.map(({ path, scale }) => ({ path, scale }));
    }
    return reply;
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    if (this.givenUp) throw this.givenUp;
    await this.connected(context).stream(payload, onChunk, context);
  }

  private connected(context: ActorContext): RemoteActor {
    if (!this.remote) throw new AbortedError(`${context.message.type}: the model host is not running`);
    return this.remote;
  }

  /** The host's own figures beside the model's status. */
  private async status(message: Message, context: ActorContext, remote: RemoteActor): Promise<ModelStatus> {
    const [status] = await Promise.all([remote.receive(message, context) as Promise<ModelStatus>, this.askStats(remote.peer, context.signal)]);
    return { ...status, host: this.hostStatus() };
  }

  /** A given-up model's status: failed, nothing running, and how its last host ended. */
  private givenUpStatus(): ModelStatus {
    const idle = { slots: 0, busySlots: 0, queueDepth: 0, maxQueue: 0, completed: 0, tokensGenerated: 0, tokensPerSecond: 0, contexts: 0 };
    return { state: ModelLifecycleState.Failed, ...idle, host: this.hostStatus() };
  }

  /** What {@link ModelHostStatus} says now. */
  hostStatus(): ModelHostStatus {
    const pid = this.process?.pid;
    const state = this.givenUp || !this.process || this.process.ended ? HostState.Down : this.remote ? HostState.Up : HostState.Starting;
    return {
      state,
      restarts: Math.max(0, this.spawns - 1),
      ...(pid !== undefined && state !== HostState.Down ? { pid } : {}),
      ...(this.lastStats ? { rssBytes: this.lastStats.rssBytes, loadProgress: this.lastStats.loadProgress } : {}),
      ...(this.startupMs !== undefined ? { startupMs: Math.round(this.startupMs) } : {}),
      ...(this.lastExit !== undefined ? { lastExit: this.lastExit } : {}),
    };
  }

  /** Stops the host: SIGTERM (it aborts its generations and frees the model), SIGKILL after the grace period. */
  override async onStop(): Promise<void> {
    await this.stopHost();
  }

  private async stopHost(): Promise<void> {
    clearTimeout(this.loadWatch);
    const { peer, process: host } = this;
    this.remote = undefined;
    this.peer = undefined;
    this.lastStats = undefined;
    await peer?.dispose();
    await host?.stop(this.options.killGraceMs ?? 5_000);
  }
}
