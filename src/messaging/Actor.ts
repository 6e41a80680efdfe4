import { UnsupportedMessageError } from './errors.js';
import type { Message } from './Message.js';
import type { Protocol } from './protocol.js';
import type { StreamCallback, TokenStreamEventInput } from './TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext } from './types.js';

/**
 * Base class of everything registered with a `MessageRouter`. The router calls an actor's
 * handlers one message at a time (unless the actor was registered with a higher `concurrency`),
 * so an actor's own state needs no locking.
 *
 * - `receive` answers `tell` and `ask`; its return value is the reply to an `ask`.
 * - `stream`, when present, answers `stream` / `streamAsk`: call `onChunk` for each `token` and
 *   `await` it (that is how backpressure reaches you). Ending with a `done` event is optional: the
 *   router adds one when `stream` returns, and an `error` event with a `code` when it throws.
 * - Watch `context.signal`: it fires on timeout, abort, cancel and stop.
 *
 * @example
 * ```ts
 * class Greeter extends Actor {
 *   override async receive(message: Message) {
 *     return `hello, ${String(message.payload)}`;
 *   }
 *   override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, { signal }: ActorContext) {
 *     for (const word of ['hello', ', ', String(payload)]) {
 *       if (signal.aborted) return;
 *       await onChunk({ type: 'token', content: word });
 *     }
 *   }
 * }
 * ```
 */
export abstract class Actor {
  /**
   * The actor's protocol: its kind, and for each message type its lane, whether it streams, whether
   * the generic HTTP routes may send it and which payload fields are paths. The router refuses
   * message types the protocol does not declare. Actors without one take every type, in the
   * exclusive lane.
   */
  readonly protocol?: Protocol;

  /**
   * Handles a `tell` or an `ask`. The default rejects every message type with
   * `UNSUPPORTED_MESSAGE`, for actors that only stream.
   */
  receive(message: Message, context: ActorContext): unknown {
    throw new UnsupportedMessageError(context.self.slice(2, -1), message.type);
  }

  /** Handles a streaming request. Actors without it reject `stream` with `STREAM_NOT_SUPPORTED`. */
  stream?(
    payload: unknown,
    onChunk: StreamCallback<TokenStreamEventInput>,
    context: ActorContext,
  ): Promise<void> | void;

  /** Called before the first message and after each restart. Throwing counts as a failure. */
  onStart?(context: ActorLifecycleContext): Promise<void> | void;

  /** Called when the actor stops or before it restarts, after its in-flight messages settled. */
  onStop?(context: ActorLifecycleContext): Promise<void> | void;
}

/** An actor instance, or a factory the router calls for a fresh instance on each (re)start. */
export type ActorSource = Actor | (() => Actor);
