import { describe, expect, it } from 'vitest';
import {
  ActorError,
  ActorStatus,
  ActorStoppedError,
  type DeadLetter,
  DeadLetterReason,
  ErrorCode,
  type InspectionEvent,
  InspectionEventType,
} from '../../src/index.js';
import { deferred, flush, FnActor, ManualClock, newRouter, TestMessage } from './fixtures.js';

const CRASH = 'crash';

/** A counter whose state is lost on restart, which is how a test can see that it restarted. */
function counterFactory(instances: FnActor[]) {
  return () => {
    let count = 0;
    const actor = new FnActor({
      receive: (message) => {
        if (message.payload === CRASH) throw new Error('counter bug');
        return ++count;
      },
    });
    instances.push(actor);
    return actor;
  };
}

function kinds(events: InspectionEvent[]) {
  return events
    .filter((e) => e.type !== InspectionEventType.Message && e.type !== InspectionEventType.Reply)
    .map((e) => (e.type === InspectionEventType.ActorRestarting ? `${e.type}#${e.attempt}/${e.delayMs}` : e.type));
}

describe('supervision', () => {
  it('restarts an actor that throws, with a fresh instance from its factory, after a backoff', async () => {
    const clock = new ManualClock();
    const events: InspectionEvent[] = [];
    const router = newRouter({ clock, inspect: (e) => events.push(e) });
    const instances: FnActor[] = [];
    router.registerActor('counter', counterFactory(instances), { supervision: { minBackoffMs: 100 } });
    expect(await router.ask('counter', TestMessage.Work, 'inc')).toBe(1);
    expect(await router.ask('counter', TestMessage.Work, 'inc')).toBe(2);

    await expect(router.ask('counter', TestMessage.Work, CRASH)).rejects.toMatchObject({ code: ErrorCode.ActorFailed });
    await flush();
    expect(router.status('counter')).toBe(ActorStatus.Restarting);
    expect(instances[0]?.stops).toBe(1);

    // Messages sent during the backoff wait in the mailbox.
    const queued = router.ask('counter', TestMessage.Work, 'inc', { timeout: Infinity });
    clock.advance(99);
    await flush();
    expect(instances).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(instances).toHaveLength(2);
    expect(instances[1]?.starts).toEqual([1]);
    await expect(queued).resolves.toBe(1); // state was reset
    expect(router.status('counter')).toBe(ActorStatus.Running);
    expect(kinds(events)).toEqual([
      InspectionEventType.ActorRegistered,
      InspectionEventType.ActorStarted,
      InspectionEventType.ActorFailed,
      `${InspectionEventType.ActorRestarting}#1/100`,
      InspectionEventType.ActorStarted,
    ]);
    await router.dispose();
  });

  it('backs off exponentially and stops the actor once the restart budget is spent', async () => {
    const clock = new ManualClock();
    const events: InspectionEvent[] = [];
    const router = newRouter({ clock, inspect: (e) => events.push(e) });
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    const instances: FnActor[] = [];
    router.registerActor('counter', counterFactory(instances), {
      supervision: { maxRestarts: 2, withinMs: 10_000, minBackoffMs: 100, backoffFactor: 3 },
    });
    const crash = async () => {
      await expect(router.ask('counter', TestMessage.Work, CRASH, { timeout: Infinity })).rejects.toBeTruthy();
      await flush();
    };
    await crash();
    clock.advance(100);
    await flush();
    await crash();
    clock.advance(300);
    await flush();
    expect(instances).toHaveLength(3);
    const waiting = router.ask('counter', TestMessage.Work, 'inc', { timeout: Infinity });
    await crash(); // the third failure inside the window exhausts a budget of 2 restarts
    await waiting.catch(() => {});
    await flush();
    expect(router.has('counter')).toBe(false);
    const restarting = events.flatMap((e) => (e.type === InspectionEventType.ActorRestarting ? [e.delayMs] : []));
    expect(restarting).toEqual([100, 300]);
    const stopped = events.find((e) => e.type === InspectionEventType.ActorStopped);
    expect(stopped).toMatchObject({ reason: 'actor @(counter) stopped: restart budget exhausted: 3 failures within 10000 ms, limit 2 restarts' });

    // The router itself is fine: later messages are dead letters, other actors work.
    await expect(router.ask('counter', TestMessage.Work, 'inc')).rejects.toMatchObject({ code: ErrorCode.ActorNotFound });
    expect(dead.at(-1)?.reason).toBe(DeadLetterReason.ActorNotFound);
    router.registerActor('other', new FnActor({ receive: () => 'ok' }));
    await expect(router.ask('other', TestMessage.Work, null)).resolves.toBe('ok');
    await router.dispose();
  });

  it('failures older than the window do not count against the budget', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock });
    const instances: FnActor[] = [];
    router.registerActor('counter', counterFactory(instances), {
      supervision: { maxRestarts: 1, withinMs: 1_000, minBackoffMs: 10 },
    });
    for (let i = 0; i < 4; i++) {
      await expect(router.ask('counter', TestMessage.Work, CRASH, { timeout: Infinity })).rejects.toBeTruthy();
      await flush();
      clock.advance(2_000);
      await flush();
    }
    expect(router.has('counter')).toBe(true);
    expect(instances).toHaveLength(5);
    await router.dispose();
  });

  it('typed ActorErrors are answers, not crashes: the actor keeps its state', async () => {
    const router = newRouter();
    let count = 0;
    router.registerActor(
      'strict',
      new FnActor({
        receive: (message) => {
          if (message.payload === 'invalid') throw new ActorError('BAD_REQUEST', 'bad request: 0 of 1 fields');
          return ++count;
        },
      }),
    );
    await router.ask('strict', TestMessage.Work, 'ok');
    await expect(router.ask('strict', TestMessage.Work, 'invalid')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(router.ask('strict', TestMessage.Work, 'ok')).resolves.toBe(2);
    expect(router.status('strict')).toBe(ActorStatus.Running);
    await router.dispose();
  });

  it('a restart waits for the actor’s other in-flight streams, which finish undisturbed', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock });
    const gate = deferred();
    const actor = new FnActor({
      stream: async (payload, onChunk) => {
        if (payload === CRASH) throw new Error('bad request crashed the handler');
        await onChunk({ type: 'token', content: 'before' });
        await gate.promise;
        await onChunk({ type: 'token', content: 'after' });
      },
    });
    router.registerActor('model', actor, { concurrency: 2, supervision: { minBackoffMs: 10 } });
    const healthy = router.stream('model', TestMessage.Words, 'ok').collect();
    await flush();
    await expect(router.stream('model', TestMessage.Words, CRASH).collect()).rejects.toMatchObject({ code: ErrorCode.ActorFailed });
    await flush();
    expect(actor.stops).toBe(0); // still running the healthy stream
    gate.resolve();
    await expect(healthy).resolves.toBe('beforeafter');
    await flush();
    expect(actor.stops).toBe(1);
    clock.advance(10);
    await flush();
    expect(actor.starts).toEqual([0, 1]); // same instance restarted: onStop, then onStart
    await router.dispose();
  });

  it('an onStart that throws is retried under the same policy', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock });
    let attempts = 0;
    router.registerActor(
      'fragile',
      new FnActor({
        onStart: () => {
          attempts++;
          if (attempts < 3) throw new Error(`start attempt ${attempts} failed`);
        },
        receive: () => 'up',
      }),
      { supervision: { minBackoffMs: 50 } },
    );
    const reply = router.ask('fragile', TestMessage.Work, null, { timeout: Infinity });
    await flush();
    clock.advance(50);
    await flush();
    clock.advance(100);
    await flush();
    await expect(reply).resolves.toBe('up');
    await expect(router.ready('fragile')).resolves.toBeUndefined();
    expect(attempts).toBe(3);
    await router.dispose();
  });

  it('the stop directive stops the actor at the first failure', async () => {
    const router = newRouter();
    router.registerActor(
      'brittle',
      new FnActor({
        receive: () => {
          throw new Error('no second chances');
        },
      }),
      { supervision: { decide: () => 'stop' } },
    );
    await expect(router.ask('brittle', TestMessage.Work, null)).rejects.toBeTruthy();
    await flush();
    expect(router.has('brittle')).toBe(false);
    await expect(router.ready('brittle')).rejects.toMatchObject({ code: ErrorCode.ActorNotFound });
  });

  it('queued messages of an actor that is stopped by its supervisor fail with ACTOR_STOPPED and become dead letters', async () => {
    const router = newRouter();
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    const gate = deferred();
    router.registerActor(
      'brittle',
      new FnActor({
        receive: async () => {
          await gate.promise;
          throw new Error('fatal');
        },
      }),
      { supervision: { decide: () => 'stop' } },
    );
    const first = router.ask('brittle', TestMessage.Work, 1).catch((e: unknown) => e);
    const second = router.ask('brittle', TestMessage.Work, 2).catch((e: unknown) => e);
    await flush();
    gate.resolve();
    expect(await second).toBeInstanceOf(ActorStoppedError);
    expect(await first).toMatchObject({ code: ErrorCode.ActorFailed });
    expect(dead).toEqual([expect.objectContaining({ reason: DeadLetterReason.ActorStopped, message: expect.objectContaining({ payload: 2 }) })]);
  });
});
