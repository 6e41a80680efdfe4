import { Deferred } from '../Deferred.js';
import { ActorError, ConsumerFailedError, ErrorCode, ErrorKind, isErrorKind } from '../errors.js';
import { StreamEventType, type StreamCallback, type TokenStreamEvent } from '../TokenStreamEvent.js';
import { type TransportFrame, TransportFrameType } from './frames.js';
import { errorFromWire, type WireError } from './wireErrors.js';

/** How a stream through a {@link TransportPeer} ended: its terminal event, and the error of an `error` ending. */
export interface StreamEnd {
  /** The terminal `done` or `error` event, as delivered to `onChunk`. */
  readonly event: TokenStreamEvent;
  /** For an `error` ending: the error, rebuilt with its class (`instanceof` holds) and code. */
  readonly error?: ActorError;
}

/** @internal What a {@link PeerStream} needs from its peer. */
export interface PeerStreamHost {
  /** Sends a control frame (credit, cancel); never throws. */
  sendControl(frame: TransportFrame): void;
  now(): number;
  /** The stream has its terminal event: later frames for its id are ignored. */
  finished(id: number): void;
  report(error: unknown, source: string): void;
}

const isTerminal = (event: TokenStreamEvent): boolean => event.type === StreamEventType.Done || event.type === StreamEventType.Error;

/**
 * @internal The calling side of one stream: delivers chunks to `onChunk` one at a time, in order,
 * awaiting it, and grants the exporter credit for the events consumed (in batches of half the
 * window). Un-credited events are at most the window, whatever the consumer does. Ends exactly
 * once: with the exporter's terminal event, or with one made here when the caller aborts, the
 * consumer throws or the host is lost (queued events are then dropped; the terminal comes next).
 */
export class PeerStream {
  readonly end = new Deferred<StreamEnd>();
  private readonly queue: TokenStreamEvent[] = [];
  private terminal: StreamEnd | undefined;
  private delivering = false;
  private received = false;
  private consumed = 0;
  private readonly batch: number;

  constructor(
    private readonly host: PeerStreamHost,
    readonly id: number,
    /** The remote actor's id, for errors that name it. */
    readonly actorId: string,
    private readonly onChunk: StreamCallback<TokenStreamEvent>,
    window: number,
  ) {
    this.batch = Math.max(1, Math.floor(window / 2));
  }

  /** A chunk frame arrived. */
  chunk(event: TokenStreamEvent, wireError: WireError | undefined): void {
    if (this.terminal) return;
    this.received = true;
    if (!isTerminal(event)) {
      this.queue.push(event);
    } else {
      const error = event.type === StreamEventType.Error ? (wireError ? errorFromWire(wireError) : errorOfEvent(event)) : undefined;
      this.queueTerminal({ event, ...(error ? { error } : {}) });
    }
    this.pump();
  }

  /** A fail frame arrived: before any event it is a routing error (the stream rejects), after one an ending. */
  failed(error: ActorError): void {
    if (this.terminal) return;
    if (this.received) {
      this.endWith(error, false);
      return;
    }
    this.terminal = { event: errorEvent(error, this.host.now()), error };
    this.host.finished(this.id);
    this.end.reject(error);
  }

  /** Ends the stream here with `error` (abort, lost host, failed consumer), cancelling the remote side if asked. */
  endWith(error: ActorError, cancelRemote: boolean): void {
    if (this.terminal) return;
    if (cancelRemote) this.host.sendControl({ type: TransportFrameType.Cancel, id: this.id });
    this.queue.length = 0;
    this.queueTerminal({ event: errorEvent(error, this.host.now()), error });
    this.pump();
  }

  private queueTerminal(end: StreamEnd): void {
    this.terminal = end;
    this.queue.push(end.event);
    this.host.finished(this.id);
  }

  private pump(): void {
    if (this.delivering) return;
    this.delivering = true;
    void this.deliver();
  }

  private async deliver(): Promise<void> {
    try {
      for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
        const terminal = this.terminal !== undefined && event === this.terminal.event;
        try {
          const pending = this.onChunk(event);
          if (pending !== undefined) await pending;
        } catch (error) {
          if (terminal) this.host.report(error, 'stream consumer (terminal event)');
          else this.endWith(new ConsumerFailedError(error), true);
        }
        if (terminal && this.terminal) {
          this.end.resolve(this.terminal);
          return;
        }
        this.credit();
      }
    } finally {
      // Reset in the same turn as the last look at the queue: a chunk arriving next starts a new pump.
      this.delivering = false;
    }
  }

  /** One more event consumed: grant a batch of credit once enough have been. */
  private credit(): void {
    if (this.terminal) return;
    this.consumed++;
    if (this.consumed < this.batch) return;
    this.host.sendControl({ type: TransportFrameType.Credit, id: this.id, n: this.consumed });
    this.consumed = 0;
  }
}

/** The terminal error event that ends a stream with `error`. */
function errorEvent(error: ActorError, timestamp: number): TokenStreamEvent {
  return { type: StreamEventType.Error, error: error.message, code: error.code, kind: error.kind, timestamp };
}

/** The error of an `error` event that came without its wire form (another exporter's). */
function errorOfEvent(event: TokenStreamEvent): ActorError {
  return new ActorError(event.code ?? ErrorCode.ActorFailed, event.error ?? 'stream failed', {
    kind: isErrorKind(event.kind) ? event.kind : ErrorKind.Internal,
  });
}
