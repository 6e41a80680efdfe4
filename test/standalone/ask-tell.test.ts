import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AbortedError,
  ActorError,
  ActorFailedError,
  ActorNotFoundError,
  address,
  type DeadLetter,
  DeadLetterReason,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
  UnsupportedMessageError,
} from '../../src/index.js';
import { deferred, flush, FnActor, newRouter, TestMessage } from './fixtures.js';

describe('ask', () => {
  it('resolves with the value receive returns', async () => {
    const router = newRouter();
    router.registerActor('echo', new FnActor({ receive: (message) => ({ echoed: message.payload }) }));
    await expect(router.ask(address('echo'), TestMessage.Echo, 7)).resolves.toEqual({ echoed: 7 });
    await expect(router.ask('echo', TestMessage.Echo, 8)).resolves.toEqual({ echoed: 8 });
    await router.dispose();
  });

  it('rejects an unknown address with ACTOR_NOT_FOUND and records a dead letter', async () => {
    const router = newRouter();
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    await expect(router.ask(address('ghost'), TestMessage.Echo, 1)).rejects.toBeInstanceOf(ActorNotFoundError);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: DeadLetterReason.ActorNotFound, message: { to: '@(ghost)', type: 'echo' } });
  });

  it('passes an actor’s typed error through unchanged and wraps anything else as ACTOR_FAILED', async () => {
    const router = newRouter();
    class QuotaError extends ActorError {
      constructor() {
        super('QUOTA', 'quota exceeded: 11 requests, limit 10');
      }
    }
    router.registerActor(
      'picky',
      new FnActor({
        receive: (message) => {
          if (message.payload === 'typed') throw new QuotaError();
          throw new Error('boom');
        },
      }),
      { supervision: { minBackoffMs: 1 } },
    );
    await expect(router.ask('picky', TestMessage.Work, 'typed')).rejects.toMatchObject({ code: 'QUOTA' });
    const failed = await router.ask('picky', TestMessage.Work, 'crash').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ActorFailedError);
    expect(failed).toMatchObject({ code: ErrorCode.ActorFailed, message: 'actor @(picky) failed: boom' });
    expect((failed as Error).cause).toBeInstanceOf(Error);
    await router.dispose();
  });

  it('the default receive rejects with UNSUPPORTED_MESSAGE', async () => {
    const router = newRouter();
    router.registerActor('mute', new FnActor());
    await expect(router.ask('mute', 'anything', null)).rejects.toBeInstanceOf(UnsupportedMessageError);
    await router.dispose();
  });

  it('rejects bad arguments with INVALID_ARGUMENT, naming the value', async () => {
    const router = newRouter();
    router.registerActor('echo', new FnActor({ receive: () => 1 }));
    await expect(router.ask('echo', TestMessage.Echo, 1, { timeout: -5 })).rejects.toThrow(
      'timeout must be a positive number of ms or Infinity, got -5',
    );
    await expect(router.ask('echo', '', 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(router.ask('bad address', TestMessage.Echo, 1)).rejects.toMatchObject({ code: ErrorCode.InvalidAddress });
    await router.dispose();
  });

  describe('with fake timers', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('times out after 5 s by default, aborts the handler’s signal, and sends the late reply to dead letters', async () => {
      const router = newRouter();
      const gate = deferred<string>();
      let handlerSignal: AbortSignal | undefined;
      router.registerActor(
        'slow',
        new FnActor({
          receive: async (_message, { signal }) => {
            handlerSignal = signal;
            return gate.promise; // ignores its signal on purpose
          },
        }),
      );
      const dead: DeadLetter[] = [];
      router.onDeadLetter((letter) => dead.push(letter));
      const reply = router.ask('slow', TestMessage.Work, null);
      const outcome = reply.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(4_999);
      expect(handlerSignal?.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const error = await outcome;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).message).toBe('ask work to @(slow) timed out after 5000 ms');
      expect(handlerSignal?.aborted).toBe(true);
      expect(handlerSignal?.reason).toBe(error);

      gate.resolve('too late');
      await flush();
      expect(dead).toEqual([expect.objectContaining({ reason: DeadLetterReason.LateReply, reply: 'too late' })]);
      await router.dispose();
    });

    it('honours a per-call timeout and a router-wide default', async () => {
      const router = newRouter({ askTimeout: 100 });
      const gate = deferred();
      router.registerActor('never', new FnActor({ receive: () => gate.promise }));
      const a = router.ask('never', TestMessage.Work, null).catch((e: unknown) => e);
      const b = router.ask('never', TestMessage.Work, null, { timeout: 30 }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(30);
      await expect(b).resolves.toMatchObject({ code: ErrorCode.Timeout, timeoutMs: 30 });
      await vi.advanceTimersByTimeAsync(70);
      await expect(a).resolves.toMatchObject({ code: ErrorCode.Timeout, timeoutMs: 100 });
      gate.resolve();
      await router.dispose();
    });

    it('a timeout longer than a timer can hold means never, not at once', async () => {
      // node (and the fake clock) fire a timer of more than 2^31 - 1 ms after 1 ms.
      const router = newRouter();
      const gate = deferred<string>();
      router.registerActor('slow', new FnActor({ receive: () => gate.promise }));
      const reply = router.ask('slow', TestMessage.Work, null, { timeout: 2.6e25 }).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(10_000);
      gate.resolve('answered');
      await expect(reply).resolves.toBe('answered');
      await router.dispose();
    });
  });

  it('an abort answers the caller at once even if the handler ignores its signal', async () => {
    const router = newRouter();
    const started = deferred();
    const gate = deferred();
    let handlerSignal: AbortSignal | undefined;
    router.registerActor(
      'stubborn',
      new FnActor({
        receive: (_message, { signal }) => {
          handlerSignal = signal;
          started.resolve();
          return gate.promise;
        },
      }),
    );
    const controller = new AbortController();
    const reply = router.ask('stubborn', TestMessage.Work, null, { signal: controller.signal, timeout: Infinity });
    await started.promise;
    controller.abort('user pressed stop');
    const error = await reply.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe('user pressed stop');
    expect(handlerSignal?.aborted).toBe(true);
    gate.resolve();
    await router.dispose();
  });

  it('an already aborted signal rejects before anything is queued', async () => {
    const router = newRouter();
    const receive = vi.fn();
    router.registerActor('echo', new FnActor({ receive }));
    await expect(router.ask('echo', TestMessage.Echo, 1, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    await flush();
    expect(receive).not.toHaveBeenCalled();
    await router.dispose();
  });
});

describe('tell', () => {
  it('delivers fire-and-forget and returns true', async () => {
    const router = newRouter();
    const seen: unknown[] = [];
    router.registerActor('sink', new FnActor({ receive: (message) => void seen.push(message.payload) }));
    expect(router.tell('sink', TestMessage.Work, 1)).toBe(true);
    expect(router.tell(address('sink'), TestMessage.Work, 2)).toBe(true);
    await flush();
    expect(seen).toEqual([1, 2]);
    await router.dispose();
  });

  it('never throws for delivery problems: unknown actors become dead letters and it returns false', async () => {
    const router = newRouter();
    const dead: DeadLetter[] = [];
    router.onDeadLetter((letter) => dead.push(letter));
    expect(router.tell('nobody', TestMessage.Work, 1)).toBe(false);
    expect(dead[0]?.reason).toBe(DeadLetterReason.ActorNotFound);
    expect(dead[0]?.error).toBeInstanceOf(ActorNotFoundError);
  });
});
