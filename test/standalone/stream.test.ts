import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AbortedError,
  ActorNotFoundError,
  ErrorCode,
  FinishReason,
  MailboxFullError,
  StreamNotSupportedError,
  type TokenStreamEvent,
} from '../../src/index.js';
import { deferred, flush, FnActor, ManualClock, newRouter, TestMessage, wordStreamer } from './fixtures.js';

const types = (events: TokenStreamEvent[]) => events.map((e) => (e.type === 'token' ? e.content : e.type));

describe('streamAsk', () => {
  it('delivers tokens in order, then exactly one done, and resolves with the result', async () => {
    const router = newRouter();
    router.registerActor('words', new FnActor({ stream: wordStreamer }));
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk('words', TestMessage.Words, 'the quick fox', { onChunk: (e) => void events.push(e) });
    expect(types(events)).toEqual(['the', 'quick', 'fox', 'done']);
    expect(events.every((e) => typeof e.timestamp === 'number')).toBe(true);
    expect(result).toMatchObject({ text: 'thequickfox', tokenCount: 3, finishReason: FinishReason.Stop });
    expect(result.error).toBeUndefined();
    await router.dispose();
  });

  it('keeps the producer’s own done (with its metadata) and drops anything emitted after a terminal event', async () => {
    const router = newRouter();
    router.registerActor(
      'chatty',
      new FnActor({
        stream: async (_payload, onChunk) => {
          await onChunk({ type: 'token', content: 'a', tokenId: 7, logprob: -0.5 });
          await onChunk({
            type: 'done',
            finishReason: FinishReason.Length,
            tokensPerSecond: 42,
            usage: { promptTokens: 3, completionTokens: 1, totalTokens: 4 },
          });
          await onChunk({ type: 'token', content: 'late' });
          await onChunk({ type: 'error', error: 'late error' });
        },
      }),
    );
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk('chatty', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    expect(types(events)).toEqual(['a', 'done']);
    expect(events[0]).toMatchObject({ tokenId: 7, logprob: -0.5 });
    expect(result).toMatchObject({ finishReason: 'length', tokensPerSecond: 42, usage: { totalTokens: 4 } });
    await router.dispose();
  });

  it('progress events carry data, are not tokens, and the done event’s data is the result’s', async () => {
    const router = newRouter();
    router.registerActor(
      'job',
      new FnActor({
        stream: async (_payload, onChunk) => {
          await onChunk({ type: 'progress', data: { completed: 1, total: 2 } });
          await onChunk({ type: 'progress', data: { completed: 2, total: 2 } });
          await onChunk({ type: 'done', data: { loss: 1.5 } });
        },
      }),
    );
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk('job', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    expect(events.map((e) => e.type)).toEqual(['progress', 'progress', 'done']);
    expect(events[1]?.data).toEqual({ completed: 2, total: 2 });
    expect(result).toMatchObject({ text: '', tokenCount: 0, finishReason: FinishReason.Stop, data: { loss: 1.5 } });
    await router.dispose();
  });

  it('a consumer that throws on a progress event fails the stream with CONSUMER_FAILED', async () => {
    const router = newRouter();
    router.registerActor(
      'job',
      new FnActor({
        stream: async (_payload, onChunk, { signal }) => {
          for (let i = 0; i < 5 && !signal.aborted; i++) await onChunk({ type: 'progress', data: { i } });
        },
      }),
    );
    const result = await router.streamAsk('job', TestMessage.Words, null, {
      onChunk: (e) => {
        if (e.type === 'progress') throw new Error('bad subscriber');
      },
    });
    expect(result.error?.code).toBe(ErrorCode.ConsumerFailed);
    await router.dispose();
  });

  it('a producer’s own error event is terminal and keeps its code', async () => {
    const router = newRouter();
    router.registerActor(
      'failing',
      new FnActor({
        stream: async (_p, onChunk) => {
          await onChunk({ type: 'token', content: 'x' });
          await onChunk({ type: 'error', error: 'context full: 4096 tokens, limit 4096', code: 'CONTEXT_FULL' });
        },
      }),
    );
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk('failing', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    expect(types(events)).toEqual(['x', 'error']);
    expect(events[1]).toMatchObject({ code: 'CONTEXT_FULL', error: 'context full: 4096 tokens, limit 4096' });
    expect(result.finishReason).toBe(FinishReason.Error);
    expect(result.error).toMatchObject({ code: 'CONTEXT_FULL' });
    await router.dispose();
  });

  it('an actor that throws after starting ends the stream with an error event carrying a code', async () => {
    const router = newRouter();
    router.registerActor(
      'crashy',
      new FnActor({
        stream: async (_p, onChunk) => {
          await onChunk({ type: 'token', content: 'one' });
          throw new Error('kaboom');
        },
      }),
      { supervision: { minBackoffMs: 1 } },
    );
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk('crashy', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    expect(types(events)).toEqual(['one', 'error']);
    expect(events[1]).toMatchObject({ code: ErrorCode.ActorFailed, error: 'actor @(crashy) failed: kaboom' });
    expect(result.error?.code).toBe(ErrorCode.ActorFailed);
    await router.dispose();
  });

  it('an event of an unknown type ends the stream with INVALID_ARGUMENT', async () => {
    const router = newRouter();
    router.registerActor(
      'odd',
      new FnActor({ stream: async (_p, onChunk) => onChunk({ type: 'tokenz' as 'token', content: 'x' }) }),
    );
    const events: TokenStreamEvent[] = [];
    await router.streamAsk('odd', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: ErrorCode.InvalidArgument })]);
    await router.dispose();
  });

  it.each([
    ['an unknown address', 'ghost', ActorNotFoundError],
    ['an actor that cannot stream', 'plain', StreamNotSupportedError],
  ])('rejects %s before any chunk, with a typed error', async (_what, target, ErrorClass) => {
    const router = newRouter();
    router.registerActor('plain', new FnActor({ receive: () => 1 }));
    const onChunk = vi.fn();
    await expect(router.streamAsk(target, TestMessage.Words, null, { onChunk })).rejects.toBeInstanceOf(ErrorClass);
    expect(onChunk).not.toHaveBeenCalled();
    await router.dispose();
  });

  it('rejects before any chunk when the mailbox is full, or the signal was already aborted', async () => {
    const router = newRouter();
    const gate = deferred();
    router.registerActor(
      'one-at-a-time',
      new FnActor({ stream: async (_p, onChunk) => { await gate.promise; await onChunk({ type: 'token', content: 'x' }); } }),
      { mailboxSize: 1 },
    );
    const running = router.streamAsk('one-at-a-time', TestMessage.Words, null, { onChunk: () => {} });
    await flush();
    const queued = router.streamAsk('one-at-a-time', TestMessage.Words, null, { onChunk: () => {} });
    const onChunk = vi.fn();
    await expect(router.streamAsk('one-at-a-time', TestMessage.Words, null, { onChunk })).rejects.toBeInstanceOf(MailboxFullError);
    await expect(
      router.streamAsk('one-at-a-time', TestMessage.Words, null, { onChunk, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortedError);
    expect(onChunk).not.toHaveBeenCalled();
    gate.resolve();
    await Promise.all([running, queued]);
    await router.dispose();
  });

  it('rejects when onChunk is missing', async () => {
    const router = newRouter();
    await expect(router.streamAsk('x', TestMessage.Words, null, {} as never)).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
    });
  });

  describe('timeouts and aborts', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('a timeout ends the stream promptly with a TIMEOUT error event even if the actor ignores its signal', async () => {
      const router = newRouter();
      const gate = deferred();
      let signal: AbortSignal | undefined;
      let emitsAfterTimeout = 0;
      router.registerActor(
        'stuck',
        new FnActor({
          stream: async (_p, onChunk, context) => {
            signal = context.signal;
            await onChunk({ type: 'token', content: 'first' });
            await gate.promise; // ignores the signal
            await onChunk({ type: 'token', content: 'ignored' });
            emitsAfterTimeout++;
          },
        }),
      );
      const events: TokenStreamEvent[] = [];
      const pending = router.streamAsk('stuck', TestMessage.Words, null, { onChunk: (e) => void events.push(e), timeout: 250 });
      await vi.advanceTimersByTimeAsync(250);
      const result = await pending;
      expect(types(events)).toEqual(['first', 'error']);
      expect(events[1]).toMatchObject({ code: ErrorCode.Timeout, error: 'stream words to @(stuck) timed out after 250 ms' });
      expect(result.finishReason).toBe(FinishReason.Timeout);
      expect(signal?.aborted).toBe(true);
      gate.resolve();
      await flush();
      expect(emitsAfterTimeout).toBe(1);
      expect(types(events)).toEqual(['first', 'error']);
      await router.dispose();
    });

    it('a router-wide stream timeout applies when the call gives none', async () => {
      const router = newRouter({ streamTimeout: 100 });
      router.registerActor('silent', new FnActor({ stream: (_p, _o, { signal }) => new Promise((r) => signal.addEventListener('abort', () => r())) }));
      const pending = router.streamAsk('silent', TestMessage.Words, null, { onChunk: () => {} });
      await vi.advanceTimersByTimeAsync(100);
      await expect(pending).resolves.toMatchObject({ finishReason: FinishReason.Timeout });
      await router.dispose();
    });
  });

  it('an abort ends the stream with an ABORTED error event and fires the actor’s signal', async () => {
    const router = newRouter();
    const firstToken = deferred();
    let signal: AbortSignal | undefined;
    router.registerActor(
      'endless',
      new FnActor({
        stream: async (_p, onChunk, context) => {
          signal = context.signal;
          while (!context.signal.aborted) {
            await onChunk({ type: 'token', content: '.' });
            firstToken.resolve();
            await new Promise((r) => setImmediate(r));
          }
        },
      }),
    );
    const controller = new AbortController();
    const events: TokenStreamEvent[] = [];
    const pending = router.streamAsk('endless', TestMessage.Words, null, { onChunk: (e) => void events.push(e), signal: controller.signal });
    await firstToken.promise;
    controller.abort();
    const result = await pending;
    expect(events.at(-1)).toMatchObject({ type: 'error', code: ErrorCode.Aborted });
    expect(events.filter((e) => e.type !== 'token')).toHaveLength(1);
    expect(result.finishReason).toBe(FinishReason.Cancelled);
    expect(signal?.aborted).toBe(true);
    await router.dispose();
  });

  it('a consumer callback that throws ends its stream with CONSUMER_FAILED and leaves other streams alone', async () => {
    const router = newRouter();
    let producerSignal: AbortSignal | undefined;
    router.registerActor(
      'words',
      new FnActor({
        stream: async (payload, onChunk, context) => {
          if (String(payload).startsWith('victim')) producerSignal = context.signal;
          await wordStreamer(payload, onChunk, context);
        },
      }),
      { concurrency: 2 },
    );
    const bad: TokenStreamEvent[] = [];
    const good: TokenStreamEvent[] = [];
    const [badResult, goodResult] = await Promise.all([
      router.streamAsk('words', TestMessage.Words, 'victim a b c', {
        onChunk: (e) => {
          bad.push(e);
          if (e.content === 'a') throw new Error('render failed');
        },
      }),
      router.streamAsk('words', TestMessage.Words, 'one two three four', { onChunk: (e) => void good.push(e) }),
    ]);
    expect(types(bad)).toEqual(['victim', 'a', 'error']);
    expect(bad[2]).toMatchObject({ code: ErrorCode.ConsumerFailed, error: 'stream consumer threw: render failed' });
    expect(badResult.error?.code).toBe(ErrorCode.ConsumerFailed);
    expect(producerSignal?.aborted).toBe(true);
    expect(types(good)).toEqual(['one', 'two', 'three', 'four', 'done']);
    expect(goodResult.error).toBeUndefined();
    // The actor is still healthy.
    await expect(router.stream('words', TestMessage.Words, 'still here').collect()).resolves.toBe('stillhere');
    await router.dispose();
  });
});

describe('stream (GenerationStream)', () => {
  it('is async-iterable over events and awaitable for the result', async () => {
    const router = newRouter();
    router.registerActor('words', new FnActor({ stream: wordStreamer }));
    const stream = router.stream('words', TestMessage.Words, 'a b c');
    const events: TokenStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(types(events)).toEqual(['a', 'b', 'c', 'done']);
    // Iterated only: the counts and timings, not a second copy of the text the loop already had.
    await expect(stream).resolves.toMatchObject({ text: '', tokenCount: 3 });
    expect(stream.ended).toBe(true);
    // keepResult() before the loop keeps it.
    const kept = router.stream('words', TestMessage.Words, 'a b c').keepResult();
    for await (const event of kept) events.push(event);
    await expect(kept).resolves.toMatchObject({ text: 'abc', tokenCount: 3 });
    await router.dispose();
  });

  it('holds O(highWaterMark) events, not the whole output, for a consumer that only iterates', async () => {
    const router = newRouter({ highWaterMark: 4 });
    const chunk = 'x'.repeat(2048);
    let channelText = -1;
    router.registerActor(
      'big',
      new FnActor({
        stream: async (_payload, onChunk) => {
          for (let i = 0; i < 2_000; i++) await onChunk({ type: 'token', content: chunk });
        },
      }),
    );
    const stream = router.stream('big', TestMessage.Words, null);
    let read = 0;
    for await (const event of stream) {
      if (event.type === 'token') read++;
      // What the channel still holds, read from its result so far: nothing kept for an iterating consumer.
      channelText = stream.stats.text.length;
    }
    expect(read).toBe(2_000);
    expect(channelText).toBe(0);
    await router.dispose();
  });

  it('text yields strings, collect() the whole text, and both surface a failure as a thrown typed error', async () => {
    const router = newRouter();
    router.registerActor(
      'words',
      new FnActor({
        stream: async (payload, onChunk, context) => {
          await wordStreamer(payload, onChunk, context);
          if (payload === 'x y fail') throw new Error('broke');
        },
      }),
      { supervision: { decide: () => 'resume' } },
    );
    const texts: string[] = [];
    for await (const t of router.stream('words', TestMessage.Words, 'x y z').text) texts.push(t);
    expect(texts).toEqual(['x', 'y', 'z']);
    await expect(router.stream('words', TestMessage.Words, 'x y z').collect()).resolves.toBe('xyz');

    const partial: string[] = [];
    const iterate = async () => {
      for await (const t of router.stream('words', TestMessage.Words, 'x y fail').text) partial.push(t);
    };
    await expect(iterate()).rejects.toMatchObject({ code: ErrorCode.ActorFailed });
    expect(partial).toEqual(['x', 'y', 'fail']);
    await expect(router.stream('words', TestMessage.Words, 'x y fail').collect()).rejects.toMatchObject({
      code: ErrorCode.ActorFailed,
    });
    await router.dispose();
  });

  it('collectWithMetadata reports text, token count, times, tokens/s and finish reason', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock });
    router.registerActor(
      'timed',
      new FnActor({
        stream: async (_p, onChunk) => {
          clock.advance(50); // prompt processing
          for (const word of ['a', 'b', 'c', 'd', 'e']) {
            await onChunk({ type: 'token', content: word });
            clock.advance(10);
          }
        },
      }),
    );
    const result = await router.stream('timed', TestMessage.Words, null).collectWithMetadata();
    expect(result).toEqual({
      text: 'abcde',
      tokenCount: 5,
      finishReason: 'stop',
      totalTimeMs: 100,
      timeToFirstTokenMs: 50,
      tokensPerSecond: 100, // 4 tokens after the first, in 40 ms
    });
    await router.dispose();
  });

  it('a stream that never started rejects on first next() and on await, with no events', async () => {
    const router = newRouter();
    const stream = router.stream('ghost', TestMessage.Words, null);
    const iterator = stream[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(ActorNotFoundError);
    await expect(stream).rejects.toBeInstanceOf(ActorNotFoundError);
    await expect(router.stream('bad address!', TestMessage.Words, null).collect()).rejects.toMatchObject({
      code: ErrorCode.InvalidAddress,
    });
    await expect(router.stream('ghost', TestMessage.Words, null, { highWaterMark: 0 }).collect()).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: 'highWaterMark must be a positive integer, got 0',
    });
  });

  it('cancel() ends it with ABORTED and fires the producer’s signal', async () => {
    const router = newRouter();
    const started = deferred();
    let signal: AbortSignal | undefined;
    router.registerActor(
      'endless',
      new FnActor({
        stream: async (_p, onChunk, context) => {
          signal = context.signal;
          await onChunk({ type: 'token', content: 'x' });
          started.resolve();
          await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
        },
      }),
    );
    const stream = router.stream('endless', TestMessage.Words, null);
    const outcome = stream.collect().catch((e: unknown) => e);
    await started.promise;
    stream.cancel('no longer needed');
    const error = await outcome;
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe('no longer needed');
    expect(signal?.aborted).toBe(true);
    expect(stream.stats.finishReason).toBe(FinishReason.Cancelled);
    stream.cancel(); // no-op once ended
    await router.dispose();
  });

  it('leaving a for-await loop early cancels the work (consumer termination)', async () => {
    const router = newRouter();
    let signal: AbortSignal | undefined;
    let produced = 0;
    router.registerActor(
      'endless',
      new FnActor({
        stream: async (_p, onChunk, context) => {
          signal = context.signal;
          while (!context.signal.aborted) {
            produced++;
            await onChunk({ type: 'token', content: String(produced) });
          }
        },
      }),
    );
    const seen: string[] = [];
    const stream = router.stream('endless', TestMessage.Words, null, { highWaterMark: 4 });
    for await (const text of stream.text) {
      seen.push(text);
      if (seen.length === 3) break;
    }
    await flush();
    expect(seen).toEqual(['1', '2', '3']);
    expect(signal?.aborted).toBe(true);
    expect(produced).toBeLessThanOrEqual(3 + 4 + 1); // bounded by the buffer, not unbounded
    await expect(stream).rejects.toBeInstanceOf(AbortedError);
    await router.dispose();
  });
});
