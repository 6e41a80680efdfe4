import type { Address } from './address.js';
import type { DeadLetter } from './DeadLetter.js';
import type { ActorError } from './errors.js';
import type { Message } from './Message.js';
import type { SupervisionDirective } from './SupervisionPolicy.js';
import type { TokenStreamEvent } from './TokenStreamEvent.js';

/** Types of {@link InspectionEvent}, modelled on xstate's `@xstate.*` inspection events. */
export const InspectionEventType = {
  ActorRegistered: '@actor.registered',
  ActorStarted: '@actor.started',
  ActorFailed: '@actor.failed',
  ActorRestarting: '@actor.restarting',
  ActorStopped: '@actor.stopped',
  ActorState: '@actor.state',
  Message: '@message',
  Reply: '@reply',
  StreamEvent: '@stream.event',
  DeadLetter: '@dead-letter',
  UnhandledError: '@unhandled-error',
} as const;
export type InspectionEventType = (typeof InspectionEventType)[keyof typeof InspectionEventType];

/** Everything the router does, as seen by an `inspect` hook. */
export type InspectionEvent =
  | { type: typeof InspectionEventType.ActorRegistered; actor: Address; timestamp: number }
  | { type: typeof InspectionEventType.ActorStarted; actor: Address; restarts: number; timestamp: number }
  | {
      type: typeof InspectionEventType.ActorFailed;
      actor: Address;
      error: unknown;
      directive: SupervisionDirective;
      timestamp: number;
    }
  | {
      type: typeof InspectionEventType.ActorRestarting;
      actor: Address;
      attempt: number;
      delayMs: number;
      timestamp: number;
    }
  | { type: typeof InspectionEventType.ActorStopped; actor: Address; reason: string; timestamp: number }
  /** A state an actor reported about itself through `context.reportState` (e.g. a model loading). */
  | { type: typeof InspectionEventType.ActorState; actor: Address; state: string; detail?: unknown; timestamp: number }
  /** A message accepted for delivery (also sent for messages that then become dead letters). */
  | { type: typeof InspectionEventType.Message; message: Message; timestamp: number }
  /** The outcome of an `ask`: a reply envelope, or the error the caller got. */
  | { type: typeof InspectionEventType.Reply; message: Message; error?: ActorError; timestamp: number }
  | {
      type: typeof InspectionEventType.StreamEvent;
      actor: Address;
      /** The id of the request message that opened the stream. */
      streamId: string;
      event: TokenStreamEvent;
      timestamp: number;
    }
  | { type: typeof InspectionEventType.DeadLetter; deadLetter: DeadLetter; timestamp: number }
  /** A listener, inspector or consumer threw; reported here and otherwise ignored. */
  | { type: typeof InspectionEventType.UnhandledError; error: unknown; source: string; timestamp: number };

/** Receives every {@link InspectionEvent}. Exceptions it throws are logged and ignored. */
export type Inspector = (event: InspectionEvent) => void;
