import { describe, expect, it } from 'vitest';
import {
  ActorError,
  type ActorLifecycleContext,
  ActorStatus,
  ErrorCode,
  type InspectionEvent,
  InspectionEventType,
  SupervisionDirective,
} from '../../src/index.js';
import { flush, FnActor, ManualClock, newRouter, TestMessage } from './fixtures.js';

/**
 * `context.fail(error)` on the lifecycle context: an actor reports a failure outside any handler
 * (its linked host process died) and supervision decides exactly as for a handler that threw.
 */

/** A factory of counters that keep each instance's lifecycle context, so a test can report failures through it. */
function linkedCounters() {
  const instances: FnActor[] = [];
  const contexts: ActorLifecycleContext[] = [];
  const factory = () => {
    let count = 0;
    const actor = new FnActor({
      onStart: (context) => void contexts.push(context),
      receive: () => ++count,
    });
    instances.push(actor);
    return actor;
  };
  return { instances, contexts, factory };
}

const failures = (events: InspectionEvent[]) =>
  events.flatMap((e) => (e.type === InspectionEventType.ActorFailed ? [`${e.directive}: ${(e.error as Error).message}`] : []));

describe('ActorLifecycleContext.fail', () => {
  it('restarts the actor as a crash in a handler would: a fresh instance after the backoff, messages waiting meanwhile', async () => {
    const clock = new ManualClock();
    const events: InspectionEvent[] = [];
    const router = newRouter({ clock, inspect: (e) => events.push(e) });
    const { instances, contexts, factory } = linkedCounters();
    router.registerActor('linked', factory, { supervision: { minBackoffMs: 100 } });
    expect(await router.ask('linked', TestMessage.Work, null)).toBe(1);
    expect(await router.ask('linked', TestMessage.Work, null)).toBe(2);

    contexts[0]?.fail(new Error('host process exited with signal SIGKILL'));
    expect(router.status('linked')).toBe(ActorStatus.Restarting);
    const queued = router.ask('linked', TestMessage.Work, null, { timeout: Infinity });
    await flush();
    expect(instances[0]?.stops).toBe(1);
    clock.advance(99);
    await flush();
    expect(instances).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(instances).toHaveLength(2);
    await expect(queued).resolves.toBe(1); // a fresh instance: its state starts over
    expect(instances[1]?.starts).toEqual([1]);
    expect(failures(events)).toEqual(['restart: host process exited with signal SIGKILL']);
    await router.dispose();
  });

  it('the policy decides: an ActorError resumes by default (state kept), a custom decider may stop', async () => {
    const router = newRouter();
    const { contexts, factory } = linkedCounters();
    router.registerActor('typed', factory);
    await router.ask('typed', TestMessage.Work, null);
    contexts[0]?.fail(new ActorError('LINK_DOWN', 'the link went down: 3 retries, limit 3'));
    expect(router.status('typed')).toBe(ActorStatus.Running);
    await expect(router.ask('typed', TestMessage.Work, null)).resolves.toBe(2);

    const decided: unknown[] = [];
    const stopping = linkedCounters();
    router.registerActor('brittle', stopping.factory, {
      supervision: {
        decide: (error) => {
          decided.push(error);
          return SupervisionDirective.Stop;
        },
      },
    });
    await router.ready('brittle');
    const error = new Error('gone');
    stopping.contexts[0]?.fail(error);
    expect(decided).toEqual([error]);
    await flush();
    expect(router.has('brittle')).toBe(false);
    await router.dispose();
  });

  it('is ignored for a stale instance, after a stop, and while a restart is already under way', async () => {
    const clock = new ManualClock();
    const events: InspectionEvent[] = [];
    const router = newRouter({ clock, inspect: (e) => events.push(e) });
    // The same instance restarted (no factory): only the newest start's context may report.
    const contexts: ActorLifecycleContext[] = [];
    const actor = new FnActor({ onStart: (context) => void contexts.push(context), receive: () => 'ok' });
    router.registerActor('same', actor, { supervision: { minBackoffMs: 10 } });
    await router.ready('same');
    contexts[0]?.fail(new Error('first death'));
    contexts[0]?.fail(new Error('the same death, reported twice'));
    await flush();
    clock.advance(10);
    await flush();
    expect(actor.starts).toEqual([0, 1]);
    contexts[0]?.fail(new Error('stale: from before the restart'));
    await flush();
    expect(router.status('same')).toBe(ActorStatus.Running);
    expect(failures(events)).toEqual(['restart: first death']);

    await router.unregisterActor('same');
    expect(() => contexts[1]?.fail(new Error('after the stop'))).not.toThrow();
    expect(failures(events)).toEqual(['restart: first death']);
    await router.dispose();
  });

  it('reported while onStart runs, it is handled once onStart returns (onStop runs, then the restart)', async () => {
    const clock = new ManualClock();
    const router = newRouter({ clock });
    let attempts = 0;
    const actor = new FnActor({
      onStart: (context) => {
        attempts++;
        // E.g. a child process that died between its spawn and the end of onStart.
        if (attempts === 1) context.fail(new Error('died while starting'));
      },
      receive: () => 'up',
    });
    router.registerActor('early', actor, { supervision: { minBackoffMs: 50 } });
    const reply = router.ask('early', TestMessage.Work, null, { timeout: Infinity });
    await flush();
    expect(router.status('early')).toBe(ActorStatus.Restarting);
    expect(actor.stops).toBe(1);
    clock.advance(50);
    await expect(reply).resolves.toBe('up');
    expect(actor.starts).toEqual([0, 1]);
    await router.dispose();
  });

  it('reported while onStart runs with a resume policy, the actor simply starts', async () => {
    const router = newRouter();
    const actor = new FnActor({
      onStart: (context) => context.fail(new ActorError('SOFT', 'a soft failure: 1 of 3 links down')),
      receive: () => 'up',
    });
    router.registerActor('soft', actor);
    await expect(router.ask('soft', TestMessage.Work, null)).resolves.toBe('up');
    expect(actor.starts).toEqual([0]);
    expect(router.status('soft')).toBe(ActorStatus.Running);
    await expect(router.ask('ghost', TestMessage.Work, null)).rejects.toMatchObject({ code: ErrorCode.ActorNotFound });
    await router.dispose();
  });
});
