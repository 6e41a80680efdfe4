import { Deferred } from './Deferred.js';
import {
  AbortedError,
  ActorError,
  ErrorCode,
  InvalidArgumentError,
  isErrorKind,
  StreamOverflowError,
  TimeoutError,
} from './errors.js';
import type { GenerationResult } from './GenerationResult.js';
import {
  FinishReason,
  StreamEventType,
  type TokenStreamEvent,
  type TokenStreamEventInput,
  type TokenUsage,
} from './TokenStreamEvent.js';

/** @internal A consumer's read position in a {@link StreamChannel}. */
export interface Cursor {
  /** Absolute index of the next event to read. */
  pos: number;
  waiter: Deferred | undefined;
}

/** @internal */
export interface StreamChannelOptions {
  highWaterMark: number;
  /** Hard cap for producers that do not await `onChunk`. */
  maxBuffered: number;
  now: () => number;
  /** Called for every event as it is produced (inspection, observers). */
  onEvent: (event: TokenStreamEvent) => void;
  /** Called once when the terminal event is produced; `error` is set for an `error` ending. */
  onEnd: (error: ActorError | undefined) => void;
}

/**
 * @internal The producer side and shared state of one stream. Events are retained until every
 * attached consumer has read them; the producer's `emit` returns a promise (backpressure) while
 * the slowest consumer is `highWaterMark` events behind, and with no consumer attached yet all
 * events are retained, so consumers attached before the first read see the whole stream.
 */
export class StreamChannel {
  /** Events not yet read by every cursor; `events[0]` has absolute index `base`. */
  private events: TokenStreamEvent[] = [];
  private base = 0;
  // An array, not a Set: nearly every stream has one consumer, and this is the per-token path.
  private readonly cursors: Cursor[] = [];
  private producerWaiter: Deferred | undefined;
  /** Consumers that do not hold a cursor (awaiting the result) but still count as interest. */
  private sinks = 0;

  /** Set once the terminal event has been produced. */
  closed = false;
  /** The error of an `error` ending, or of a routing failure (then no event is ever produced). */
  error: ActorError | undefined;
  /** True when the stream never started (routing error): consumers see a rejection, not events. */
  rejected = false;
  /** Events pushed after the terminal event and dropped. */
  dropped = 0;

  private text = '';
  /**
   * Whether token text is folded into the result. True until a consumer reads an event without
   * anyone having asked for the result: an iterating consumer has the text already, and keeping a
   * second copy would hold the whole output for a result nobody awaits.
   */
  private keepingText = true;
  private resultWanted = false;
  private tokenCount = 0;
  private readonly startedAt: number;
  private firstTokenAt: number | undefined;
  private lastTokenAt: number | undefined;
  private endedAt: number | undefined;
  private finishReason: FinishReason = FinishReason.Stop;
  private usage: TokenUsage | undefined;
  private data: Record<string, unknown> | undefined;
  private producerTokensPerSecond: number | undefined;
  private resultDeferred: Deferred<GenerationResult> | undefined;

  /** The producer's callback, bound once so actors can pass it around. */
  readonly emit: (event: TokenStreamEventInput) => void | Promise<void>;

  constructor(
    readonly id: string,
    private readonly options: StreamChannelOptions,
  ) {
    this.startedAt = options.now();
    this.emit = (event) => this.push(event);
  }

  /** Ends the channel before it started: consumers get `error` as a rejection, no events. */
  reject(error: ActorError): void {
    if (this.closed) return;
    this.rejected = true;
    this.error = error;
    this.closed = true;
    this.endedAt = this.options.now();
    this.wakeAll();
    this.resultDeferred?.reject(error);
  }

  private push(input: TokenStreamEventInput): void | Promise<void> {
    if (this.closed) {
      this.dropped++;
      return;
    }
    // Copy only when the producer left the timestamp out; producers that stamp pay nothing extra.
    const event: TokenStreamEvent =
      input.timestamp === undefined ? { ...input, timestamp: this.options.now() } : (input as TokenStreamEvent);
    switch (event.type) {
      case StreamEventType.Token:
        this.tokenCount++;
        if (event.content !== undefined && this.keepingText) this.text += event.content;
        this.firstTokenAt ??= event.timestamp;
        this.lastTokenAt = event.timestamp;
        break;
      case StreamEventType.Progress:
        break;
      case StreamEventType.Done:
        this.finishReason = event.finishReason ?? FinishReason.Stop;
        this.usage = event.usage;
        this.data = event.data;
        this.producerTokensPerSecond = event.tokensPerSecond;
        break;
      case StreamEventType.Error:
        this.error = new ActorError(event.code ?? ErrorCode.ActorFailed, event.error ?? 'stream failed', {
          ...(isErrorKind(event.kind) ? { kind: event.kind } : {}),
        });
        this.finishReason = FinishReason.Error;
        break;
      default:
        this.fail(
          new InvalidArgumentError(
            `stream event type must be token, progress, done or error, got ${JSON.stringify((event as { type: unknown }).type)}`,
          ),
        );
        return;
    }
    this.append(event);
    if (event.type === StreamEventType.Done || event.type === StreamEventType.Error) {
      this.close();
      return;
    }
    const buffered = this.buffered();
    if (buffered >= this.options.maxBuffered) {
      this.fail(new StreamOverflowError(buffered, this.options.maxBuffered));
      return;
    }
    if (buffered >= this.options.highWaterMark) {
      this.producerWaiter ??= new Deferred();
      return this.producerWaiter.promise;
    }
  }

  /** Ends the stream with `done` unless it already ended (producers that return without one). */
  complete(): void {
    if (!this.closed) this.push({ type: StreamEventType.Done, finishReason: FinishReason.Stop });
  }

  /** Ends the stream with an `error` event carrying `error`'s code, unless it already ended. */
  fail(error: ActorError): void {
    if (this.closed) return;
    this.error = error;
    this.finishReason =
      error instanceof TimeoutError
        ? FinishReason.Timeout
        : error instanceof AbortedError
          ? FinishReason.Cancelled
          : FinishReason.Error;
    this.append({ type: StreamEventType.Error, error: error.message, code: error.code, kind: error.kind, timestamp: this.options.now() });
    this.close();
  }

  private append(event: TokenStreamEvent): void {
    this.events.push(event);
    this.options.onEvent(event);
    this.wakeAll();
  }

  private close(): void {
    this.closed = true;
    this.endedAt = this.options.now();
    this.releaseProducer();
    this.options.onEnd(this.error);
    if (this.resultDeferred) this.settleResult(this.resultDeferred);
  }

  private wakeAll(): void {
    for (const cursor of this.cursors) {
      const waiter = cursor.waiter;
      if (waiter) {
        cursor.waiter = undefined;
        waiter.resolve();
      }
    }
  }

  private releaseProducer(): void {
    const waiter = this.producerWaiter;
    if (waiter) {
      this.producerWaiter = undefined;
      waiter.resolve();
    }
  }

  private minPos(): number {
    const cursors = this.cursors;
    if (cursors.length === 1) return (cursors[0] as Cursor).pos;
    if (cursors.length === 0) return this.base;
    let min = this.base + this.events.length;
    for (const cursor of cursors) if (cursor.pos < min) min = cursor.pos;
    return min;
  }

  /** Events the slowest consumer has yet to read. */
  buffered(): number {
    return this.base + this.events.length - this.minPos();
  }

  /** Keeps the result's text from here on (someone will await the result). */
  keepResult(): void {
    this.resultWanted = true;
  }

  /** Adds a consumer, reading from the oldest event still retained. */
  attach(): Cursor {
    const cursor: Cursor = { pos: this.base, waiter: undefined };
    this.cursors.push(cursor);
    return cursor;
  }

  /**
   * Removes a consumer. When the last one leaves before the end and nobody awaits the result,
   * the stream is cancelled: a consumer that stops listening should stop the work too.
   */
  detach(cursor: Cursor): void {
    const index = this.cursors.indexOf(cursor);
    if (index < 0) return;
    this.cursors.splice(index, 1);
    cursor.waiter?.resolve();
    cursor.waiter = undefined;
    if (!this.closed && this.cursors.length === 0) {
      if (this.sinks === 0) {
        this.fail(new AbortedError('stream (its last consumer stopped reading)'));
        return;
      }
      // Someone still awaits the result: keep the producer flowing.
      this.drainIntoNothing();
    }
    this.afterRead();
  }

  /** The next event for `cursor`, or `undefined` when it has read everything produced so far. */
  read(cursor: Cursor): TokenStreamEvent | undefined {
    const index = cursor.pos - this.base;
    if (index >= this.events.length) return undefined;
    const event = this.events[index];
    cursor.pos++;
    // The first event read with nobody waiting for the result: the reader has the text, drop ours.
    if (this.keepingText && !this.resultWanted) {
      this.keepingText = false;
      this.text = '';
    }
    this.afterRead();
    return event;
  }

  /** True when `cursor` has read the terminal event (or the stream was rejected). */
  finished(cursor: Cursor): boolean {
    return this.closed && cursor.pos >= this.base + this.events.length;
  }

  /** Resolves when an event for `cursor` may be available or the stream ended. */
  wait(cursor: Cursor): Promise<void> {
    cursor.waiter ??= new Deferred();
    return cursor.waiter.promise;
  }

  private afterRead(): void {
    const min = this.minPos();
    const drop = min - this.base;
    // Trim in batches: splicing a short array is cheap, but not on every read.
    if (drop > 0 && (drop >= 32 || drop === this.events.length)) {
      this.events.splice(0, drop);
      this.base = min;
    }
    if (this.producerWaiter && this.base + this.events.length - min < this.options.highWaterMark) {
      this.releaseProducer();
    }
  }

  /**
   * The final result. Registers interest: with no consumer attached, events are discarded as they
   * come so that awaiting the result alone never stalls the producer.
   */
  result(): Promise<GenerationResult> {
    if (!this.resultDeferred) {
      this.resultWanted = true;
      this.resultDeferred = new Deferred();
      this.sinks++;
      if (this.cursors.length === 0) this.drainIntoNothing();
      if (this.closed) this.settleResult(this.resultDeferred);
    }
    return this.resultDeferred.promise;
  }

  private drainIntoNothing(): void {
    const cursor = this.attach();
    const pump = (): void => {
      while (this.read(cursor) !== undefined) {
        // discard: the result is computed from the producer's side
      }
      if (this.finished(cursor)) {
        this.detach(cursor);
        return;
      }
      void this.wait(cursor).then(pump);
    };
    pump();
  }

  private settleResult(deferred: Deferred<GenerationResult>): void {
    if (this.error) deferred.reject(this.error);
    else deferred.resolve(this.summary());
  }

  /** The stream's statistics so far (final once closed). */
  summary(): GenerationResult {
    const end = this.endedAt ?? this.options.now();
    let tokensPerSecond = this.producerTokensPerSecond ?? 0;
    if (this.producerTokensPerSecond === undefined && this.tokenCount > 1) {
      const span = (this.lastTokenAt ?? 0) - (this.firstTokenAt ?? 0);
      tokensPerSecond = span > 0 ? ((this.tokenCount - 1) * 1000) / span : 0;
    }
    const result: GenerationResult = {
      text: this.text,
      tokenCount: this.tokenCount,
      finishReason: this.finishReason,
      totalTimeMs: end - this.startedAt,
      timeToFirstTokenMs: this.firstTokenAt === undefined ? undefined : this.firstTokenAt - this.startedAt,
      tokensPerSecond,
    };
    if (this.usage) result.usage = this.usage;
    if (this.data) result.data = this.data;
    if (this.error) result.error = this.error;
    return result;
  }
}
