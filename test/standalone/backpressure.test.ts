import { describe, expect, it } from 'vitest';
import { type ActorEmission, ErrorCode, type TokenStreamEvent } from '../../src/index.js';
import { deferred, flush, FnActor, newRouter, TestMessage } from './fixtures.js';

/** A producer of `count` tokens that records how many of its onChunk calls have resolved. */
function countingProducer(count: number) {
  const progress = { emitted: 0, resolved: 0 };
  const actor = new FnActor({
    stream: async (_payload, onChunk, { signal }) => {
      for (let i = 0; i < count && !signal.aborted; i++) {
        progress.emitted++;
        await onChunk({ type: 'token', content: `t${i}` });
        progress.resolved++;
      }
    },
  });
  return { actor, progress };
}

describe('backpressure', () => {
  it('a consumer that does not read stops the producer at highWaterMark', async () => {
    const router = newRouter();
    const { actor, progress } = countingProducer(100);
    router.registerActor('producer', actor);
    const stream = router.stream('producer', TestMessage.Words, null, { highWaterMark: 4 });
    const iterator = stream[Symbol.asyncIterator]();
    await flush(50);
    // Four events fill the buffer; the producer's fourth onChunk is the one left waiting.
    expect(progress).toEqual({ emitted: 4, resolved: 3 });

    await iterator.next();
    await flush(50);
    expect(progress.emitted).toBe(5);
    expect(progress.resolved).toBe(4);

    let total = 1;
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) total++;
    expect(total).toBe(101); // 100 tokens + done
    await router.dispose();
  });

  it('a slow streamAsk callback slows the producer to its pace', async () => {
    const router = newRouter();
    const { actor, progress } = countingProducer(10);
    router.registerActor('producer', actor);
    const gates: Array<() => void> = [];
    const received: string[] = [];
    const done = router.streamAsk('producer', TestMessage.Words, null, {
      highWaterMark: 2,
      onChunk: (event) => {
        received.push(event.content ?? event.type);
        return new Promise<void>((resolve) => gates.push(resolve));
      },
    });
    await flush(50);
    expect(received).toEqual(['t0']);
    // One event being handled plus at most highWaterMark buffered.
    expect(progress.emitted).toBeLessThanOrEqual(1 + 2);
    while (gates.length > 0) {
      gates.shift()?.();
      await flush(20);
    }
    await done;
    expect(received).toHaveLength(11);
    await router.dispose();
  });

  it('a producer that does not await onChunk is stopped by STREAM_OVERFLOW, not by memory', async () => {
    const router = newRouter();
    let pushed = 0;
    router.registerActor(
      'firehose',
      new FnActor({
        stream: (_payload, onChunk) => {
          for (let i = 0; i < 100_000; i++) {
            void onChunk({ type: 'token', content: 'x' });
            pushed++;
          }
        },
      }),
    );
    const stream = router.stream('firehose', TestMessage.Words, null, { highWaterMark: 4 });
    const events: TokenStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(pushed).toBe(100_000);
    const last = events.at(-1);
    expect(last).toMatchObject({
      type: 'error',
      code: ErrorCode.StreamOverflow,
      error: 'stream buffer overflow: 64 chunks buffered, limit 64 (the producer must await onChunk)',
    });
    expect(events).toHaveLength(65); // 64 tokens kept, the rest dropped after the terminal event
    await router.dispose();
  });
});

describe('fan-out', () => {
  it('several consumers of one stream each see every event; the slowest sets the pace', async () => {
    const router = newRouter();
    const { actor, progress } = countingProducer(20);
    router.registerActor('producer', actor);
    const stream = router.stream('producer', TestMessage.Words, null, { highWaterMark: 3 });
    const fast: string[] = [];
    const slowIterator = stream[Symbol.asyncIterator]();
    const fastDone = (async () => {
      for await (const event of stream) fast.push(event.content ?? event.type);
    })();
    const subscribed: string[] = [];
    const unsubscribe = stream.subscribe((event) => void subscribed.push(event.content ?? event.type));
    await flush(50);
    // The slow iterator has read nothing, so the producer is held at the buffer limit.
    expect(progress.emitted).toBe(3);
    expect(fast).toEqual(['t0', 't1', 't2']);

    const slow: string[] = [];
    for (let step = await slowIterator.next(); !step.done; step = await slowIterator.next()) {
      slow.push(step.value.content ?? step.value.type);
    }
    await fastDone;
    const expected = [...Array.from({ length: 20 }, (_, i) => `t${i}`), 'done'];
    expect(slow).toEqual(expected);
    expect(fast).toEqual(expected);
    expect(subscribed).toEqual(expected);
    unsubscribe();
    await router.dispose();
  });

  it('subscribe() on an actor observes everything it emits, filtered by scope, without backpressure', async () => {
    const router = newRouter();
    router.registerActor(
      'worker',
      new FnActor({
        receive: (message) => `reply ${String(message.payload)}`,
        stream: async (payload, onChunk) => {
          await onChunk({ type: 'token', content: String(payload) });
        },
      }),
    );
    const all: ActorEmission[] = [];
    const tab1: ActorEmission[] = [];
    const stopAll = router.subscribe('worker', (emission) => void all.push(emission));
    router.subscribe('@(worker)', (emission) => void tab1.push(emission), { scope: 'tab-1' });

    await router.stream('worker', TestMessage.Words, 'a', { scope: 'tab-1' }).collect();
    await router.stream('worker', TestMessage.Words, 'b', { scope: 'tab-2' }).collect();
    await router.ask('worker', TestMessage.Echo, 'c', { scope: 'tab-1' });

    const describeEmission = (e: ActorEmission) =>
      e.kind === 'reply' ? `reply:${String(e.reply)}` : `${e.request.scope}:${e.event.content ?? e.event.type}`;
    expect(all.map(describeEmission)).toEqual(['tab-1:a', 'tab-1:done', 'tab-2:b', 'tab-2:done', 'reply:reply c']);
    expect(tab1.map(describeEmission)).toEqual(['tab-1:a', 'tab-1:done', 'reply:reply c']);

    stopAll();
    await router.ask('worker', TestMessage.Echo, 'd');
    expect(all).toHaveLength(5);
    await router.dispose();
  });

  it('an observer that throws is reported and breaks neither the actor nor other observers', async () => {
    const router = newRouter();
    router.registerActor('worker', new FnActor({ stream: async (_p, onChunk) => onChunk({ type: 'token', content: 'x' }) }));
    const healthy: string[] = [];
    router.subscribe('worker', () => {
      throw new Error('observer bug');
    });
    router.subscribe('worker', (e) => void healthy.push(e.kind));
    await expect(router.stream('worker', TestMessage.Words, null).collect()).resolves.toBe('x');
    expect(healthy).toEqual(['stream-event', 'stream-event']);
    await router.dispose();
  });

  it('awaiting a stream alone drains it, so the producer never stalls on an unread buffer', async () => {
    const router = newRouter();
    const { actor } = countingProducer(500);
    router.registerActor('producer', actor);
    const result = await router.stream('producer', TestMessage.Words, null, { highWaterMark: 2 });
    expect(result.tokenCount).toBe(500);
    await router.dispose();
  });

  it('when the last iterator leaves but the result is awaited, the stream keeps flowing to the end', async () => {
    const router = newRouter();
    const { actor } = countingProducer(50);
    router.registerActor('producer', actor);
    const stream = router.stream('producer', TestMessage.Words, null, { highWaterMark: 2 });
    const result = stream.collectWithMetadata();
    const gate = deferred();
    const reader = (async () => {
      for await (const event of stream) {
        if (event.content === 't1') break;
        await gate.promise;
      }
    })();
    gate.resolve();
    await reader;
    await expect(result).resolves.toMatchObject({ tokenCount: 50, finishReason: 'stop' });
    await router.dispose();
  });
});
