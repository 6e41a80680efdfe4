import type { Logger } from 'pino';
import { defaultLogger } from '../logger.js';
import { isTransportFrame, type TransportFrame } from './frames.js';
import type { Transport, TransportCloseReason, TransportSendOptions } from './Transport.js';

/**
 * The bookkeeping every {@link Transport} shares: frame and close listeners, the once-only close
 * with its reason, and a listener that throws reported rather than breaking delivery. A transport
 * implements `send` and `close`, calls {@link deliver} for each frame that arrives and
 * {@link markClosed} when its channel ends.
 *
 * @example
 * ```ts
 * class LoopbackTransport extends TransportBase {
 *   send(frame: TransportFrame): void {
 *     if (!this.closed) queueMicrotask(() => this.deliver(structuredClone(frame)));
 *   }
 *   async close(): Promise<void> {
 *     this.markClosed({ message: 'the transport was closed' });
 *   }
 * }
 * ```
 */
export abstract class TransportBase implements Transport, AsyncDisposable {
  private readonly frameListeners = new Set<(frame: TransportFrame) => void>();
  private readonly closeListeners = new Set<(reason: TransportCloseReason) => void>();
  private reason: TransportCloseReason | undefined;
  protected readonly logger: Logger;

  /** @param logger pino logger for listeners that throw and frames that are not frames. Defaults to the kernel's default logger. */
  constructor(logger?: Logger) {
    this.logger = logger ?? defaultLogger();
  }

  abstract send(frame: TransportFrame, options?: TransportSendOptions): void;
  abstract close(): Promise<void>;

  get closed(): boolean {
    return this.reason !== undefined;
  }

  /** Why the transport closed, once it has. */
  get closeReason(): TransportCloseReason | undefined {
    return this.reason;
  }

  onFrame(listener: (frame: TransportFrame) => void): () => void {
    this.frameListeners.add(listener);
    return () => void this.frameListeners.delete(listener);
  }

  onClose(listener: (reason: TransportCloseReason) => void): () => void {
    const reason = this.reason;
    if (reason !== undefined) {
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) this.call(listener, reason, 'close listener');
      });
      return () => void (cancelled = true);
    }
    this.closeListeners.add(listener);
    return () => void this.closeListeners.delete(listener);
  }

  /** Hands a frame that arrived to the listeners; anything that is not a frame is logged and dropped. */
  protected deliver(frame: unknown): void {
    if (this.reason !== undefined) return;
    if (!isTransportFrame(frame)) {
      this.logger.warn({ frame }, 'transport: dropped a message that is not a frame');
      return;
    }
    for (const listener of this.frameListeners) this.call(listener, frame, 'frame listener');
  }

  /** Closes for `reason` and tells the close listeners, once; false when already closed. */
  protected markClosed(reason: TransportCloseReason): boolean {
    if (this.reason !== undefined) return false;
    this.reason = reason;
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    this.frameListeners.clear();
    for (const listener of listeners) this.call(listener, reason, 'close listener');
    return true;
  }

  private call<T>(listener: (value: T) => void, value: T, what: string): void {
    try {
      listener(value);
    } catch (error) {
      // One listener's bug must not starve the others of frames, or of the close.
      this.logger.error({ err: error }, `transport: a ${what} threw`);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
