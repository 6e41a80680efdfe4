import { defineProtocol, Lane } from '../../messaging/protocol.js';
import type { Clock } from '../../messaging/Clock.js';
import type { ModelActorOptions } from '../ModelActor/types.js';

/**
 * Where a model runs: `in-process` (a ModelActor in this process: the fastest to start, and a
 * native crash in llama.cpp ends the whole process) or `process` (a ModelActor in a supervised
 * child process, a model host, reached through a transport under the same address and protocol: a
 * crash costs that model's in-flight requests, and the host is restarted).
 */
export const ModelIsolation = {
  InProcess: 'in-process',
  Process: 'process',
} as const;
export type ModelIsolation = (typeof ModelIsolation)[keyof typeof ModelIsolation];

/**
 * The ModelActor options a host can take: plain data only (they cross the process boundary), so
 * no `llama`, `clock`, `logger` or callbacks: the host makes its own `Llama`.
 */
export type HostedModelOptions = Omit<ModelActorOptions, 'llama' | 'clock' | 'logger' | 'onLoadProgress'>;

/** Options of a {@link ModelHostActor}. */
export interface ModelHostOptions {
  /** The model the host serves. */
  model: HostedModelOptions;
  /**
   * After SIGTERM, how long a stopping host may take to finish (free the model) before SIGKILL, in
   * ms. Defaults to `5_000`.
   */
  killGraceMs?: number;
  /** How long the host may take from spawn to answering (its modules loaded; the model loads after, as in process), in ms. Defaults to `60_000`. */
  startTimeoutMs?: number;
  /** Heartbeat period of the transport, in ms. Defaults to `1_000`. */
  heartbeatMs?: number;
  /** A host that answers no heartbeat for this long is taken for dead (killed and restarted), in ms. Defaults to `10_000`. */
  heartbeatTimeoutMs?: number;
  /** The host's environment. Defaults to this process's. */
  env?: NodeJS.ProcessEnv;
  /** The clock of the restart budget. Defaults to the system clock. */
  clock?: Clock;
  /** The host's log level (its pino logger writes JSON lines to its stderr, which is forwarded to this logger). Defaults to `'warn'`. */
  logLevel?: string;
}

/** What the host process is doing, as {@link ModelHostStatus} reports it. */
export const HostState = {
  /** Spawned, not answering yet. */
  Starting: 'starting',
  /** Answering: its model may still be loading (see the model's own `state`). */
  Up: 'up',
  /** Dead or stopped: a restart may follow (see `restarts`). */
  Down: 'down',
} as const;
export type HostState = (typeof HostState)[keyof typeof HostState];

/** The host process behind a model served with `isolation: 'process'`: on the model's `status` as `host`. */
export interface ModelHostStatus {
  state: HostState;
  /** The host's process id (while it runs). */
  pid?: number;
  /** Times the host was restarted after it died. */
  restarts: number;
  /** The host's resident memory in bytes, as it last reported it. */
  rssBytes?: number;
  /** From spawn to the host answering, in ms (the model's load comes after). */
  startupMs?: number;
  /** Model load progress in the host, 0 to 1. */
  loadProgress?: number;
  /** How the last host ended (`exited with code 1`, `killed by SIGSEGV`), once one has. */
  lastExit?: string;
}

/** Messages of the host actor that runs beside the ModelActor inside a host process. */
export const HostMessage = {
  /** The host's process figures: `{ pid, rssBytes, loadProgress }`. */
  Stats: 'stats',
} as const;
export type HostMessage = (typeof HostMessage)[keyof typeof HostMessage];

/** Reply of {@link HostMessage.Stats}. */
export interface HostStats {
  pid: number;
  rssBytes: number;
  /** The model's load progress, 0 to 1 (1 once loaded). */
  loadProgress: number;
  /** The model's lifecycle state as it last reported it. */
  modelState: string;
}

/** The host actor's protocol (kind `host`). */
export interface HostProtocol {
  [HostMessage.Stats]: { payload: null; reply: HostStats };
}

/** @internal The host actor's protocol. */
export const hostProtocol = defineProtocol<HostProtocol>('host', {
  [HostMessage.Stats]: { lane: Lane.Concurrent },
});

/** @internal What the parent hands a host process (as JSON in {@link HOST_CONFIG_ENV}). */
export interface ModelHostConfig {
  /** The ModelActor's id, the same inside the host as outside. */
  modelId: string;
  /** The host actor's id. */
  hostId: string;
  model: HostedModelOptions;
  logLevel: string;
}

/** @internal The environment variable a host process reads its {@link ModelHostConfig} from. */
export const HOST_CONFIG_ENV = 'LLAMA_ACTORS_MODEL_HOST';
