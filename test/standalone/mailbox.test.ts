import { describe, expect, it } from 'vitest';
import { AbortedError, type DeadLetter, DeadLetterReason, MailboxFullError } from '../../src/index.js';
import { deferred, flush, FnActor, newRouter, TestMessage } from './fixtures.js';

/** An actor whose every message waits on a gate the test opens by hand. */
function gatedActor() {
  const log: string[] = [];
  const gates = new Map<unknown, ReturnType<typeof deferred>>();
  let active = 0;
  let maxActive = 0;
  const gate = (key: unknown) => {
    let g = gates.get(key);
    if (!g) {
      g = deferred();
      gates.set(key, g);
    }
    return g;
  };
  const actor = new FnActor({
    receive: async (message) => {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${String(message.payload)}`);
      await gate(message.payload).promise;
      log.push(`end ${String(message.payload)}`);
      active--;
      return message.payload;
    },
  });
  return { actor, log, open: (key: unknown) => gate(key).resolve(undefined), maxActive: () => maxActive };
}

describe('mailbox', () => {
  it('handles one message at a time, in order, by default', async () => {
    const router = newRouter();
    const { actor, log, open, maxActive } = gatedActor();
    router.registerActor('serial', actor);
    const replies = [1, 2, 3].map((n) => router.ask('serial', TestMessage.Work, n));
    await flush();
    expect(log).toEqual(['start 1']);
    open(2); // opening a later gate first must not let it overtake
    await flush();
    expect(log).toEqual(['start 1']);
    open(1);
    await flush();
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3']);
    open(3);
    await expect(Promise.all(replies)).resolves.toEqual([1, 2, 3]);
    expect(maxActive()).toBe(1);
    await router.dispose();
  });

  it('runs up to `concurrency` messages at once, starting them in FIFO order', async () => {
    const router = newRouter();
    const { actor, log, open, maxActive } = gatedActor();
    router.registerActor('parallel', actor, { concurrency: 2 });
    const replies = [1, 2, 3, 4].map((n) => router.ask('parallel', TestMessage.Work, n));
    await flush();
    expect(log).toEqual(['start 1', 'start 2']);
    open(2);
    await flush();
    expect(log).toEqual(['start 1', 'start 2', 'end 2', 'start 3']);
    open(1);
    open(3);
    open(4);
    await expect(Promise.all(replies)).resolves.toEqual([1, 2, 3, 4]);
    expect(maxActive()).toBe(2);
    await router.dispose();
  });

  it('is bounded: a full mailbox rejects at once with MAILBOX_FULL naming the numbers', async () => {
    const router = newRouter();
    const { actor, open } = gatedActor();
    router.registerActor('busy', actor, { mailboxSize: 2 });
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    const first = router.ask('busy', TestMessage.Work, 1); // runs
    await flush();
    const queued = [router.ask('busy', TestMessage.Work, 2), router.ask('busy', TestMessage.Work, 3)];
    const overflow = await router.ask('busy', TestMessage.Work, 4).catch((e: unknown) => e);
    expect(overflow).toBeInstanceOf(MailboxFullError);
    expect((overflow as Error).message).toBe('mailbox full: 2 waiting, limit 2 (actor @(busy))');
    expect(router.tell('busy', TestMessage.Work, 5)).toBe(false);
    expect(dead.map((d) => [d.reason, d.message.payload])).toEqual([
      [DeadLetterReason.MailboxFull, 4],
      [DeadLetterReason.MailboxFull, 5],
    ]);
    for (const n of [1, 2, 3]) open(n);
    await expect(Promise.all([first, ...queued])).resolves.toEqual([1, 2, 3]);
    await router.dispose();
  });

  it('a queued message whose caller gives up leaves the mailbox and never runs', async () => {
    const router = newRouter();
    const { actor, log, open } = gatedActor();
    router.registerActor('busy', actor, { mailboxSize: 1 });
    const first = router.ask('busy', TestMessage.Work, 1);
    await flush();
    const controller = new AbortController();
    const abandoned = router.ask('busy', TestMessage.Work, 2, { signal: controller.signal });
    controller.abort();
    await expect(abandoned).rejects.toBeInstanceOf(AbortedError);
    // Its place is free again: the bound counts only messages still waiting.
    const third = router.ask('busy', TestMessage.Work, 3);
    open(1);
    open(3);
    await expect(Promise.all([first, third])).resolves.toEqual([1, 3]);
    expect(log).not.toContain('start 2');
    await router.dispose();
  });

  it('a handler’s exception does not stop the messages behind it', async () => {
    const router = newRouter();
    router.registerActor(
      'flaky',
      new FnActor({
        receive: (message) => {
          if (message.payload === 'bad') throw new TypeError('bad input');
          return message.payload;
        },
      }),
      { supervision: { decide: () => 'resume' } },
    );
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((p) => router.ask('flaky', TestMessage.Work, p)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await router.dispose();
  });
});
