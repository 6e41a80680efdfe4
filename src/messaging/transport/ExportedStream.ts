import { isAddress } from '../address.js';
import { Deferred } from '../Deferred.js';
import { AbortedError, ActorFailedError, describe } from '../errors.js';
import type { GenerationStream } from '../GenerationStream.js';
import { StreamEventType, type TokenStreamEvent } from '../TokenStreamEvent.js';
import type { ActorRouter, SendOptions } from '../types.js';
import { type StreamFrame, type TransportFrame, TransportFrameType } from './frames.js';
import type { TransportSendOptions } from './Transport.js';
import { errorToWire } from './wireErrors.js';

/** @internal The send options a frame's `scope` and `from` stand for. */
export function frameSendOptions(frame: { scope?: string; from?: string }): SendOptions {
  const options: SendOptions = {};
  if (typeof frame.scope === 'string') options.scope = frame.scope;
  if (isAddress(frame.from)) options.from = frame.from;
  return options;
}

/**
 * @internal The exporting side of one stream: runs it on the local router and sends its events as
 * chunks, each only against credit the caller granted. While there is none, events stay in the
 * router's own stream buffer, so the producer's `onChunk` waits at that router's `highWaterMark`:
 * a slow consumer on the other side slows the producer here, and no buffer grows on the way. The
 * terminal event goes whatever the credit (one frame, and the caller is waiting for it).
 */
export class ExportedStream {
  private credit: number;
  private cancelled = false;
  private waiter: Deferred | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly frame: StreamFrame,
    private readonly send: (frame: TransportFrame, options?: TransportSendOptions) => void,
  ) {
    this.credit = Number.isFinite(frame.credit) && frame.credit > 0 ? Math.floor(frame.credit) : 0;
  }

  /** The caller's consumer took `n` more events. */
  grant(n: number): void {
    if (Number.isFinite(n) && n > 0) this.credit += Math.floor(n);
    this.wake();
  }

  /** The caller gave up: the producer's signal fires, and nothing more is sent. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const { messageType, to } = this.frame;
    this.controller.abort(new AbortedError(`stream ${messageType} to @(${to}) (its caller cancelled it)`));
    this.wake();
  }

  /** Runs the stream to its terminal event, its cancellation or a routing failure (a `fail` frame). */
  async run(router: ActorRouter): Promise<void> {
    const { frame } = this;
    const stream = router.stream(frame.to, frame.messageType, frame.payload, {
      ...frameSendOptions(frame),
      timeout: frame.timeout ?? Number.POSITIVE_INFINITY,
      signal: this.controller.signal,
    });
    const events = stream[Symbol.asyncIterator]();
    try {
      for (;;) {
        const step = await events.next();
        if (step.done || this.cancelled) return;
        const event = step.value;
        if (event.type === StreamEventType.Done || event.type === StreamEventType.Error) {
          this.sendTerminal(event, stream);
          return;
        }
        while (this.credit <= 0 && !this.cancelled) await this.creditGranted();
        if (this.cancelled) return;
        this.credit--;
        if (!this.sendChunk(event)) {
          stream.cancel();
          return;
        }
      }
    } catch (error) {
      // Only a stream that never started rejects: a routing error, answered like an ask's.
      if (!this.cancelled) this.send({ type: TransportFrameType.Fail, id: frame.id, error: errorToWire(error, frame.to) });
    } finally {
      await events.return?.();
    }
  }

  /** Sends one token or progress event; one that cannot be cloned ends the stream with ACTOR_FAILED instead. */
  private sendChunk(event: TokenStreamEvent, flush = this.credit === 0): boolean {
    try {
      // The last chunk the credit allows goes at once: nothing more is sent until the caller answers.
      this.send({ type: TransportFrameType.Chunk, id: this.frame.id, event }, { flush });
      return true;
    } catch (error) {
      const failure = new ActorFailedError(this.frame.to, new TypeError(`a stream event cannot cross the transport: ${describe(error)}`));
      this.send({
        type: TransportFrameType.Chunk,
        id: this.frame.id,
        event: { type: StreamEventType.Error, error: failure.message, code: failure.code, kind: failure.kind, timestamp: event.timestamp },
        error: errorToWire(failure),
      });
      return false;
    }
  }

  /**
   * The terminal event, sent at once with what is batched before it: nothing follows it, and the
   * caller (and the stream's last tokens) would otherwise wait out a batching interval for nothing.
   */
  private sendTerminal(event: TokenStreamEvent, stream: GenerationStream): void {
    if (event.type === StreamEventType.Done) {
      this.sendChunk(event, true);
      return;
    }
    // The stream's error keeps the thrown error's class (the event alone has only its code).
    const error = stream.stats.error;
    this.send({ type: TransportFrameType.Chunk, id: this.frame.id, event, ...(error ? { error: errorToWire(error, this.frame.to) } : {}) }, { flush: true });
  }

  private creditGranted(): Promise<void> {
    this.waiter ??= new Deferred();
    return this.waiter.promise;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }
}
