import type { Logger } from 'pino';
import type { TransportFrame } from './frames.js';
import type { TransportCloseReason, TransportSendOptions } from './Transport.js';
import { TransportBase } from './TransportBase.js';

/** Options of {@link InMemoryTransport.pair}. */
export interface InMemoryTransportOptions {
  /** pino logger of both ends. Defaults to the kernel's default logger. */
  logger?: Logger;
}

const CLOSED_HERE: TransportCloseReason = { message: 'the transport was closed' };
const CLOSED_THERE: TransportCloseReason = { message: 'the other end closed the transport' };

/**
 * One end of a pair of transports inside one process: what one end sends, the other receives, in
 * order, each frame passed through `structuredClone` and delivered on a microtask. It behaves like
 * a real process boundary (no shared objects, no synchronous re-entry, a payload that cannot be
 * cloned fails at the sender) without one, for tests and for routers that should not share state.
 *
 * @example
 * ```ts
 * const [callerSide, hostSide] = InMemoryTransport.pair();
 * exportActors(hostRouter, hostSide);
 * await using peer = new TransportPeer(callerSide);
 * await connectActors(callerRouter, peer); // hostRouter's actors, reachable from callerRouter
 * ```
 */
export class InMemoryTransport extends TransportBase {
  private other: InMemoryTransport | undefined;

  private constructor(logger: Logger | undefined) {
    super(logger);
  }

  /**
   * Two connected ends.
   *
   * @example
   * ```ts
   * const [a, b] = InMemoryTransport.pair();
   * ```
   */
  static pair(options: InMemoryTransportOptions = {}): [InMemoryTransport, InMemoryTransport] {
    const a = new InMemoryTransport(options.logger);
    const b = new InMemoryTransport(options.logger);
    a.other = b;
    b.other = a;
    return [a, b];
  }

  /**
   * Clones the frame now (so a frame that cannot be cloned throws here, at the sender) and delivers
   * the copy to the other end on a microtask (there is nothing to batch, so `options.flush` changes
   * nothing). Dropped once either end has closed.
   *
   * @throws {DOMException} `DataCloneError` when the frame holds a function, a symbol or the like.
   */
  send(frame: TransportFrame, _options?: TransportSendOptions): void {
    const other = this.other;
    if (this.closed || other === undefined) return;
    const copy = structuredClone(frame);
    queueMicrotask(() => other.receive(copy));
  }

  private receive(frame: TransportFrame): void {
    this.deliver(frame);
  }

  /**
   * Closes this end at once and the other end after the frames already sent to it.
   *
   * @param reason what the other end is told (e.g. a simulated crash: `{ message: 'its host process exited with signal SIGKILL', signal: 'SIGKILL' }`).
   *   Defaults to `the other end closed the transport`.
   */
  async close(reason: TransportCloseReason = CLOSED_THERE): Promise<void> {
    if (!this.markClosed(CLOSED_HERE)) return;
    const other = this.other;
    // Queued behind the frames in flight, so that the other end reads them before the close, like a socket.
    if (other) queueMicrotask(() => other.closedByOther(reason));
  }

  private closedByOther(reason: TransportCloseReason): void {
    this.markClosed(reason);
  }
}
