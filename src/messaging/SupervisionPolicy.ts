import { ActorError } from './errors.js';

/** What the router does with an actor whose handler threw (OTP/Akka supervision directives). */
export const SupervisionDirective = {
  /** Keep the actor as it is; only the failed message is affected. */
  Resume: 'resume',
  /** Stop the actor, then start it again (`onStop`, backoff, a fresh instance or `onStart`). */
  Restart: 'restart',
  /** Stop and unregister the actor. */
  Stop: 'stop',
} as const;
export type SupervisionDirective = (typeof SupervisionDirective)[keyof typeof SupervisionDirective];

/**
 * How failures of one actor are handled. Restarts are limited by a budget (`maxRestarts` within
 * `withinMs`, like OTP's intensity/period); past it the actor is stopped and its queued messages
 * go to dead letters. Each restart waits an exponential backoff first, and lets the actor's other
 * in-flight messages finish: one failing request never cuts off another's stream.
 */
export interface SupervisionPolicy {
  /** Restarts allowed inside the `withinMs` window before the actor is stopped. Defaults to `3`. */
  maxRestarts?: number;
  /** Length of the restart-budget window in ms. Defaults to `60_000`. */
  withinMs?: number;
  /** Delay before the first restart in a window, in ms. Defaults to `100`. */
  minBackoffMs?: number;
  /** Upper bound of the restart delay in ms. Defaults to `10_000`. */
  maxBackoffMs?: number;
  /** Multiplier applied to the delay for each further restart in the window. Defaults to `2`. */
  backoffFactor?: number;
  /**
   * Chooses the directive for a failure. Defaults to {@link defaultDecider}: `resume` for
   * {@link ActorError}s (deliberate, typed answers), `restart` for anything else (a bug).
   */
  decide?: (error: unknown) => SupervisionDirective;
}

/** The default decider: typed errors are answers, anything else is a crash. */
export function defaultDecider(error: unknown): SupervisionDirective {
  return error instanceof ActorError ? SupervisionDirective.Resume : SupervisionDirective.Restart;
}

/** @internal A policy with every default filled in. */
export type ResolvedSupervisionPolicy = Required<SupervisionPolicy>;

/** @internal */
export function resolveSupervisionPolicy(
  policy: SupervisionPolicy | undefined,
  base?: ResolvedSupervisionPolicy,
): ResolvedSupervisionPolicy {
  return {
    maxRestarts: policy?.maxRestarts ?? base?.maxRestarts ?? 3,
    withinMs: policy?.withinMs ?? base?.withinMs ?? 60_000,
    minBackoffMs: policy?.minBackoffMs ?? base?.minBackoffMs ?? 100,
    maxBackoffMs: policy?.maxBackoffMs ?? base?.maxBackoffMs ?? 10_000,
    backoffFactor: policy?.backoffFactor ?? base?.backoffFactor ?? 2,
    decide: policy?.decide ?? base?.decide ?? defaultDecider,
  };
}

/** @internal Delay before restart number `attempt` (1-based) of the current window. */
export function backoffDelay(policy: ResolvedSupervisionPolicy, attempt: number): number {
  return Math.min(policy.maxBackoffMs, policy.minBackoffMs * policy.backoffFactor ** Math.max(0, attempt - 1));
}
