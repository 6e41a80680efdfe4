import type { Logger } from 'pino';
import type { Address } from './address.js';
import type { ActorError } from './errors.js';
import { type InspectionEvent, InspectionEventType, type Inspector } from './inspection.js';
import { createMessage, type Message, MessagePattern } from './Message.js';
import type { TokenStreamEvent } from './TokenStreamEvent.js';

/**
 * @internal The router's side of the `inspect` option: delivers {@link InspectionEvent}s to the
 * inspector, if there is one, so that an inspector that throws disturbs nothing; and reports
 * errors that are nobody's to handle.
 */
export class InspectionHook {
  constructor(
    private readonly inspector: Inspector | undefined,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** True when an inspector is set: callers skip building events (envelopes, copies) nobody sees. */
  get enabled(): boolean {
    return this.inspector !== undefined;
  }

  inspect(event: InspectionEvent): void {
    if (!this.inspector) return;
    try {
      this.inspector(event);
    } catch (error) {
      // Reported to the log only: sending it back to the inspector that threw could loop.
      this.logger.error({ err: error }, 'inspector threw');
    }
  }

  /** Something that is nobody's to handle threw (xstate's `reportUnhandledError`): log, inspect, go on. */
  report(error: unknown, source: string): void {
    this.logger.error({ err: error, source }, 'unhandled error in callback');
    this.inspect({ type: InspectionEventType.UnhandledError, error, source, timestamp: this.now() });
  }

  /** An event `actor` emitted on the stream opened by `request`. */
  streamEvent(actor: Address, request: Message, event: TokenStreamEvent): void {
    if (!this.inspector) return;
    this.inspect({
      type: InspectionEventType.StreamEvent,
      actor,
      streamId: request.id,
      event,
      timestamp: event.timestamp,
    });
  }

  /**
   * The outcome of the ask `request`, as a reply envelope from `actor` to the asker. The envelope
   * exists only for the inspector: callers get the bare value.
   */
  reply(actor: Address, request: Message, value: unknown, error: ActorError | undefined): void {
    if (!this.inspector) return;
    const reply = createMessage({
      type: request.type,
      payload: error ? undefined : value,
      pattern: MessagePattern.Reply,
      to: request.from ?? request.to,
      from: actor,
      timestamp: this.now(),
      correlationId: request.id,
      scope: request.scope,
    });
    this.inspect(
      error
        ? { type: InspectionEventType.Reply, message: reply, error, timestamp: reply.timestamp }
        : { type: InspectionEventType.Reply, message: reply, timestamp: reply.timestamp },
    );
  }
}
