import type { Logger } from 'pino';
import type { CellSettings } from './ActorCell.js';
import { type Clock, systemClock } from './Clock.js';
import { InvalidArgumentError } from './errors.js';
import type { Inspector } from './inspection.js';
import { defaultLogger } from './logger.js';
import { resolveSupervisionPolicy, type ResolvedSupervisionPolicy, type SupervisionPolicy } from './SupervisionPolicy.js';
import type { ActorOptions } from './types.js';

/** Options of the `MessageRouter` constructor. */
export interface MessageRouterOptions {
  /** pino logger; actors get children of it. Defaults to a `warn`-level logger (`silent` under vitest; `LLAMA_ACTORS_LOG_LEVEL` overrides). */
  logger?: Logger;
  /** Time source for timestamps, timeouts and backoff. Defaults to the system clock. */
  clock?: Clock;
  /** Sees every message, reply, stream event, dead letter and lifecycle change. Defaults to none. */
  inspect?: Inspector;
  /** Default `ask` timeout in ms (OTP's `gen_server:call` default). Defaults to `5_000`. */
  askTimeout?: number;
  /** Default `stream` timeout in ms. Defaults to `Infinity` (generations can be long; pass a signal or a timeout). */
  streamTimeout?: number;
  /** Default per-consumer buffer before a producer's `onChunk` waits. Defaults to `64`. */
  highWaterMark?: number;
  /** Default mailbox bound (messages waiting, not running). Defaults to `1_000`. */
  mailboxSize?: number;
  /** Default supervision policy. Defaults to 3 restarts per 60 s, backoff 100 ms doubling to 10 s. */
  supervision?: SupervisionPolicy;
  /** How long `unregisterActor` and `dispose` wait for handlers that ignore their signal, in ms. Defaults to `10_000`. */
  stopTimeout?: number;
}

/** Options of `MessageRouter.unregisterActor`. */
export interface UnregisterOptions {
  /**
   * `false` (abort): queued messages fail with `ACTOR_STOPPED` (and go to dead letters) and running
   * ones are aborted through their signal. `true` (drain): both are allowed to finish first.
   * Defaults to `false`.
   */
  drain?: boolean;
  /** Longest wait for handlers to return, in ms. Defaults to the router's `stopTimeout`. */
  timeout?: number;
}

/** @internal {@link MessageRouterOptions} checked, with every default filled in. */
export interface RouterSettings {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly inspector: Inspector | undefined;
  readonly askTimeout: number;
  readonly streamTimeout: number;
  readonly highWaterMark: number;
  readonly mailboxSize: number;
  readonly stopTimeout: number;
  readonly supervision: ResolvedSupervisionPolicy;
}

const DEFAULT_ASK_TIMEOUT = 5_000;

/** @internal Validates a timeout: a positive number of ms, or `Infinity`. */
export function checkTimeout(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms or Infinity, got ${String(value)}`);
  }
  return value;
}

/** @internal Validates a count: a positive integer. */
export function checkCount(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * @internal Checks the router's options and fills in the defaults.
 *
 * @throws {InvalidArgumentError} for a bad timeout or count (the first one, in declaration order).
 */
export function resolveRouterOptions(options: MessageRouterOptions): RouterSettings {
  return {
    logger: options.logger ?? defaultLogger(),
    clock: options.clock ?? systemClock,
    inspector: options.inspect,
    askTimeout: checkTimeout(options.askTimeout, DEFAULT_ASK_TIMEOUT, 'askTimeout'),
    streamTimeout: checkTimeout(options.streamTimeout, Number.POSITIVE_INFINITY, 'streamTimeout'),
    highWaterMark: checkCount(options.highWaterMark, 64, 'highWaterMark'),
    mailboxSize: checkCount(options.mailboxSize, 1_000, 'mailboxSize'),
    stopTimeout: checkTimeout(options.stopTimeout, 10_000, 'stopTimeout'),
    supervision: resolveSupervisionPolicy(options.supervision),
  };
}

/**
 * @internal Checks one actor's {@link ActorOptions} and fills them in from the router's settings.
 *
 * @throws {InvalidArgumentError} for a bad count.
 */
export function resolveCellSettings(options: ActorOptions, router: RouterSettings): CellSettings {
  const mailboxSize = checkCount(options.mailboxSize, router.mailboxSize, 'mailboxSize');
  return {
    mailboxSize,
    concurrency: checkCount(options.concurrency, 1, 'concurrency'),
    maxConcurrent: checkCount(options.maxConcurrent, mailboxSize, 'maxConcurrent'),
    supervision: resolveSupervisionPolicy(options.supervision, router.supervision),
    stopTimeout: router.stopTimeout,
  };
}
