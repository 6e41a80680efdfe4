import { ConsumerFailedError, type ActorError } from './errors.js';
import type { GenerationResult } from './GenerationResult.js';
import type { Cursor, StreamChannel } from './StreamChannel.js';
import { type DefaultStreamShape, StreamEventType, type StreamCallback, type TokenStreamEvent } from './TokenStreamEvent.js';

/** @internal Reports an exception nobody else can handle (a consumer that threw on the terminal event). */
export type ReportError = (error: unknown, source: string) => void;

/**
 * A running stream: async-iterable over its {@link TokenStreamEvent}s, awaitable for its
 * {@link GenerationResult}, and cancellable (after lmstudio-js's `OngoingPrediction`).
 *
 * - Iterating yields every event, the terminal `done` or `error` last. A stream that never started
 *   (unknown address, actor that cannot stream, full mailbox) yields nothing: the first `next()`
 *   rejects with the typed error.
 * - Awaiting it (or `collect()` / `collectWithMetadata()`) resolves with the result, or rejects with
 *   the stream's error.
 * - Several consumers may iterate or `subscribe()` at once (fan-out); each sees every event from
 *   the oldest one still buffered, so attach them all before the first read. The producer waits for
 *   the slowest one once it is `highWaterMark` events behind (backpressure).
 * - Leaving a `for await` loop early, when no other consumer or awaiter remains, cancels the stream.
 *
 * @example
 * ```ts
 * const stream = router.stream(address('writer'), 'write', { words: 5 });
 * for await (const text of stream.text) process.stdout.write(text);
 * const { tokenCount, tokensPerSecond } = await stream;
 * ```
 */
export class GenerationStream<S = DefaultStreamShape> implements AsyncIterable<TokenStreamEvent<S>>, PromiseLike<GenerationResult<S>> {
  /** @internal */
  constructor(
    private readonly channel: StreamChannel,
    private readonly cancelStream: (reason?: unknown) => void,
    private readonly reportError: ReportError,
  ) {}

  /** The id of the request message that opened this stream (its correlation id). */
  get id(): string {
    return this.channel.id;
  }

  /** True once the terminal event has been produced (or the stream failed to start). */
  get ended(): boolean {
    return this.channel.closed;
  }

  /** @internal The routing error when the stream never started. */
  get rejectedWith(): ActorError | undefined {
    return this.channel.rejected ? this.channel.error : undefined;
  }

  /** Statistics so far; final once {@link ended}. */
  get stats(): GenerationResult<S> {
    return this.channel.summary() as GenerationResult<S>;
  }

  /**
   * Stops the stream: it ends with an `ABORTED` error event, and the producer's signal fires.
   * Does nothing once the stream has ended.
   */
  cancel(reason?: unknown): void {
    this.cancelStream(reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<TokenStreamEvent<S>> {
    const channel = this.channel;
    const cursor = channel.attach();
    let detached = false;
    const detach = (): void => {
      if (!detached) {
        detached = true;
        channel.detach(cursor);
      }
    };
    return {
      async next(): Promise<IteratorResult<TokenStreamEvent<S>>> {
        for (;;) {
          if (detached) return { done: true, value: undefined };
          const event = channel.read(cursor);
          if (event !== undefined) return { done: false, value: event as TokenStreamEvent<S> };
          if (channel.finished(cursor)) {
            detach();
            if (channel.rejected) throw channel.error;
            return { done: true, value: undefined };
          }
          await channel.wait(cursor);
        }
      },
      async return(): Promise<IteratorResult<TokenStreamEvent<S>>> {
        detach();
        return { done: true, value: undefined };
      },
    };
  }

  /** The text of each `token` event. Ends after `done`; throws the stream's error after `error`. */
  get text(): AsyncIterable<string> {
    return {
      [Symbol.asyncIterator]: () => {
        const events = this[Symbol.asyncIterator]();
        const channel = this.channel;
        return {
          async next(): Promise<IteratorResult<string>> {
            for (;;) {
              const step = await events.next();
              if (step.done) return { done: true, value: undefined };
              const event = step.value;
              if (event.type === StreamEventType.Token) {
                if (event.content) return { done: false, value: event.content };
              } else if (event.type === StreamEventType.Error) {
                throw channel.error as ActorError;
              }
            }
          },
          async return(): Promise<IteratorResult<string>> {
            await events.return?.();
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /**
   * Delivers every event to `onChunk`, in order, awaiting it (backpressure). A callback that throws
   * ends the stream with a `CONSUMER_FAILED` error event (also delivered to it) and hurts no other
   * stream. Returns a function that stops the subscription.
   */
  subscribe(onChunk: StreamCallback<TokenStreamEvent<S>>): () => void {
    const cursor = this.channel.attach();
    let stopped = false;
    void this.pump(cursor, onChunk, () => stopped);
    return () => {
      if (!stopped) {
        stopped = true;
        this.channel.detach(cursor);
      }
    };
  }

  /** @internal Runs a callback consumer to the end of the stream. */
  async pump(cursor: Cursor, onChunk: StreamCallback<TokenStreamEvent<S>>, stopped: () => boolean): Promise<void> {
    const channel = this.channel;
    for (;;) {
      if (stopped()) return;
      const event = channel.read(cursor);
      if (event === undefined) {
        if (channel.finished(cursor)) {
          channel.detach(cursor);
          return;
        }
        await channel.wait(cursor);
        continue;
      }
      try {
        const pending = onChunk(event as TokenStreamEvent<S>);
        if (pending !== undefined) await pending;
      } catch (error) {
        if (event.type === StreamEventType.Token || event.type === StreamEventType.Progress) {
          channel.fail(new ConsumerFailedError(error));
        }
        else this.reportError(error, 'stream consumer (terminal event)');
      }
    }
  }

  /** @internal Attaches a callback consumer and runs it; used by `streamAsk`. */
  consume(onChunk: StreamCallback<TokenStreamEvent<S>>): Promise<void> {
    this.channel.keepResult();
    return this.pump(this.channel.attach(), onChunk, () => false);
  }

  /** Resolves with the concatenated text; rejects with the stream's error. */
  async collect(): Promise<string> {
    return (await this.channel.result()).text;
  }

  /** Resolves with text, token count, timings, tokens/s and finish reason; rejects with the stream's error. */
  collectWithMetadata(): Promise<GenerationResult<S>> {
    return this.channel.result() as Promise<GenerationResult<S>>;
  }

  /**
   * Keeps the result's `text` although the stream is iterated. A stream that is only iterated does
   * not keep its text (a consumer that reads and discards holds `highWaterMark` events, not the
   * whole output); awaiting, `collect()` and `streamAsk` keep it by themselves when called before
   * the first read. Returns the stream.
   */
  keepResult(): this {
    this.channel.keepResult();
    return this;
  }

  then<TResult1 = GenerationResult<S>, TResult2 = never>(
    onfulfilled?: ((value: GenerationResult<S>) => TResult1 | PromiseLike<TResult1>) | null,
    onrejected?: ((reason: unknown) => TResult2 | PromiseLike<TResult2>) | null,
  ): Promise<TResult1 | TResult2> {
    return (this.channel.result() as Promise<GenerationResult<S>>).then(onfulfilled, onrejected);
  }
}
