import { describe, expect, it } from 'vitest';
import {
  ActorAlreadyRegisteredError,
  ActorStatus,
  ActorStoppedError,
  type DeadLetter,
  DeadLetterReason,
  DisposedError,
  ErrorCode,
  type TokenStreamEvent,
} from '../../src/index.js';
import { deferred, flush, FnActor, ManualClock, newRouter, TestMessage } from './fixtures.js';

describe('registration and lifecycle', () => {
  it('a stop while onStart runs waits for it, then runs onStop: nothing onStart acquired outlives the actor', async () => {
    const router = newRouter();
    const startGate = deferred();
    const order: string[] = [];
    router.registerActor(
      'acquiring',
      new FnActor({
        onStart: async () => {
          order.push('start begins');
          await startGate.promise;
          order.push('acquired');
        },
        onStop: () => void order.push('released'),
      }),
    );
    await flush();
    const stopped = router.unregisterActor('acquiring');
    await flush();
    expect(order).toEqual(['start begins']);
    startGate.resolve();
    await stopped;
    expect(order).toEqual(['start begins', 'acquired', 'released']);
    await router.dispose();
  });

  it('runs onStart before the first message and holds messages until it finishes', async () => {
    const router = newRouter();
    const startGate = deferred();
    const order: string[] = [];
    router.registerActor(
      'slow-start',
      new FnActor({
        onStart: async () => {
          order.push('start begins');
          await startGate.promise;
          order.push('start ends');
        },
        receive: () => void order.push('message'),
      }),
    );
    expect(router.status('slow-start')).toBe(ActorStatus.Starting);
    const reply = router.ask('slow-start', TestMessage.Work, null);
    await flush();
    expect(order).toEqual(['start begins']);
    startGate.resolve();
    await reply;
    await router.ready('slow-start');
    expect(order).toEqual(['start begins', 'start ends', 'message']);
    expect(router.status('slow-start')).toBe(ActorStatus.Running);
    expect(router.actors()).toEqual(['@(slow-start)']);
    await router.dispose();
  });

  it('refuses a second actor at the same id', async () => {
    const router = newRouter();
    router.registerActor('a', new FnActor());
    expect(() => router.registerActor('@(a)', new FnActor())).toThrow(ActorAlreadyRegisteredError);
    await router.dispose();
  });

  it('unregister (default: abort) answers running and queued callers at once, dead-letters the queue, then runs onStop', async () => {
    const router = newRouter();
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    const handlerDone = deferred();
    let handlerSignal: AbortSignal | undefined;
    const actor = new FnActor({
      receive: async (_m, { signal }) => {
        handlerSignal = signal;
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        handlerDone.resolve();
        return 'finished anyway';
      },
    });
    router.registerActor('worker', actor);
    const running = router.ask('worker', TestMessage.Work, 1).catch((e: unknown) => e);
    const queued = router.ask('worker', TestMessage.Work, 2).catch((e: unknown) => e);
    await flush();
    await expect(router.unregisterActor('worker')).resolves.toBe(true);
    expect(await running).toBeInstanceOf(ActorStoppedError);
    expect(await queued).toMatchObject({ code: ErrorCode.ActorStopped, message: 'actor @(worker) stopped: unregistered' });
    expect(handlerSignal?.aborted).toBe(true);
    await handlerDone.promise;
    expect(actor.stops).toBe(1);
    // The queued message was never handled; the running one's reply came after its caller was answered.
    expect(dead.map((d) => [d.reason, d.message.payload])).toEqual([
      [DeadLetterReason.ActorStopped, 2],
      [DeadLetterReason.LateReply, 1],
    ]);
    expect(router.has('worker')).toBe(false);
    expect(router.tell('worker', TestMessage.Work, 3)).toBe(false);
    await expect(router.unregisterActor('worker')).resolves.toBe(false);
  });

  it('unregister with drain lets running and queued messages finish first', async () => {
    const router = newRouter();
    const gate = deferred();
    const actor = new FnActor({
      receive: async (message) => {
        await gate.promise;
        return message.payload;
      },
    });
    router.registerActor('worker', actor);
    const replies = [1, 2, 3].map((n) => router.ask('worker', TestMessage.Work, n, { timeout: Infinity }));
    await flush();
    const stopping = router.unregisterActor('worker', { drain: true });
    await flush();
    expect(actor.stops).toBe(0);
    gate.resolve();
    await expect(Promise.all(replies)).resolves.toEqual([1, 2, 3]);
    await stopping;
    expect(actor.stops).toBe(1);
  });

  it('unregister ends a running stream with an ACTOR_STOPPED error event', async () => {
    const router = newRouter();
    const started = deferred();
    router.registerActor(
      'model',
      new FnActor({
        stream: async (_p, onChunk, { signal }) => {
          await onChunk({ type: 'token', content: 'partial' });
          started.resolve();
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        },
      }),
    );
    const events: TokenStreamEvent[] = [];
    const result = router.streamAsk('model', TestMessage.Words, null, { onChunk: (e) => void events.push(e) });
    await started.promise;
    await router.unregisterActor('model');
    await result;
    expect(events.map((e) => e.type)).toEqual(['token', 'error']);
    expect(events[1]?.code).toBe(ErrorCode.ActorStopped);
  });

  it('gives up waiting for a handler that ignores its signal after the stop timeout', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock, stopTimeout: 500 });
    const actor = new FnActor({ receive: () => new Promise(() => {}) });
    router.registerActor('deaf', actor);
    const reply = router.ask('deaf', TestMessage.Work, null, { timeout: Infinity }).catch((e: unknown) => e);
    await flush();
    let stopped = false;
    const stopping = router.unregisterActor('deaf').then(() => {
      stopped = true;
    });
    expect(await reply).toBeInstanceOf(ActorStoppedError); // the caller is not kept waiting
    await flush();
    expect(stopped).toBe(false);
    clock.advance(500);
    await stopping;
    expect(actor.stops).toBe(1);
  });

  it('dispose stops every actor, is idempotent, and refuses new registrations; await using works', async () => {
    const a = new FnActor({ receive: () => 1 });
    const b = new FnActor({ receive: () => 2 });
    {
      await using router = newRouter();
      router.registerActor('a', a);
      router.registerActor('b', b);
      await router.ready('a');
      await router.ready('b');
      await Promise.all([router.dispose(), router.dispose()]);
      expect(a.stops).toBe(1);
      expect(() => router.registerActor('c', new FnActor())).toThrow(DisposedError);
      await expect(router.ask('a', TestMessage.Work, null)).rejects.toMatchObject({ code: ErrorCode.ActorNotFound });
    }
    expect(a.stops).toBe(1);
    expect(b.stops).toBe(1);
  });

  it('ready() honours an abort signal', async () => {
    const router = newRouter();
    router.registerActor('never-starts', new FnActor({ onStart: () => new Promise(() => {}) }));
    const controller = new AbortController();
    const waiting = router.ready('never-starts', { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
});
