import type { Logger } from 'pino';
import type { DeadLetter, DeadLetterReason } from './DeadLetter.js';
import type { ActorError } from './errors.js';
import type { InspectionHook } from './InspectionHook.js';
import { InspectionEventType } from './inspection.js';
import type { Message } from './Message.js';

/**
 * @internal The router's dead-letter channel: every message it could not deliver (and every late
 * reply) is logged at debug level, inspected and handed to each `onDeadLetter` listener. A
 * listener that throws is reported and the others still get the letter.
 */
export class DeadLetterChannel {
  private readonly listeners = new Set<(deadLetter: DeadLetter) => void>();

  constructor(
    private readonly hook: InspectionHook,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** Adds a listener. Returns a function that removes it. */
  subscribe(listener: (deadLetter: DeadLetter) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Publishes `message` as undeliverable; `reply` is the value of a late reply. */
  publish(message: Message, reason: DeadLetterReason, error?: ActorError, reply?: unknown): void {
    const deadLetter: DeadLetter = {
      message,
      reason,
      timestamp: this.now(),
      ...(error ? { error } : {}),
      ...(reply !== undefined ? { reply } : {}),
    };
    this.logger.debug({ messageId: message.id, to: message.to, type: message.type, reason }, 'dead letter');
    this.hook.inspect({ type: InspectionEventType.DeadLetter, deadLetter, timestamp: deadLetter.timestamp });
    for (const listener of this.listeners) {
      try {
        listener(deadLetter);
      } catch (listenerError) {
        this.hook.report(listenerError, 'dead-letter listener');
      }
    }
  }
}
