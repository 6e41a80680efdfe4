import { describe, expect, it } from 'vitest';
import {
  Actor,
  type ActorContext,
  ActorError,
  ActorKindMismatchError,
  address,
  DeadLetterReason,
  defineProtocol,
  ErrorCode,
  Lane,
  type Message,
  type StreamCallback,
  type TokenStreamEventInput,
} from '../../src/index.js';
import { deferred, flush, newRouter } from './fixtures.js';

interface CounterProtocol {
  add: { payload: { by: number }; reply: number };
  slowAdd: { payload: { by: number; gate: Promise<void> }; reply: number };
  startLong: { payload: { gate: Promise<void> }; reply: string };
  get: { payload: null; reply: number };
  count: { payload: { to: number }; reply: number; stream: { data: { total: number } } };
}
const CounterMessage = { Add: 'add', SlowAdd: 'slowAdd', StartLong: 'startLong', Get: 'get', Count: 'count' } as const;
const counterProtocol = defineProtocol<CounterProtocol>('counter', {
  add: {},
  slowAdd: {},
  startLong: {},
  get: { lane: Lane.Concurrent },
  count: { stream: true },
});

/** A counter whose state changes happen in the exclusive lane, read beside them. */
class Counter extends Actor {
  override readonly protocol = counterProtocol;
  value = 0;
  running = 0;
  maxRunning = 0;
  longRunning = false;

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      switch (message.type) {
        case CounterMessage.Add:
          this.value += (message.payload as { by: number }).by;
          return this.value;
        case CounterMessage.SlowAdd: {
          const { by, gate } = message.payload as { by: number; gate: Promise<void> };
          const before = this.value;
          await gate;
          this.value = before + by;
          return this.value;
        }
        case CounterMessage.StartLong: {
          if (this.longRunning) throw new ActorError('BUSY', 'already running');
          this.longRunning = true;
          context.releaseLane();
          await (message.payload as { gate: Promise<void> }).gate;
          this.longRunning = false;
          return 'finished';
        }
        case CounterMessage.Get:
          return this.value;
        default:
          return super.receive(message, context);
      }
    } finally {
      this.running--;
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>): Promise<void> {
    const { to } = payload as { to: number };
    for (let i = 1; i <= to; i++) await onChunk({ type: 'token', content: String(i) });
    await onChunk({ type: 'done', data: { total: to } });
  }
}

describe('protocols, refs and lanes', () => {
  it('runs exclusive messages one at a time in order while concurrent ones answer beside them', async () => {
    const router = newRouter();
    const counter = new Counter();
    const ref = router.ref(router.registerActor('counter/a', counter), counterProtocol);
    const gate = deferred();
    const slow = ref.ask(CounterMessage.SlowAdd, { by: 5, gate: gate.promise });
    const add = ref.ask(CounterMessage.Add, { by: 1 });
    await flush();
    // The read is answered while the slow add holds the lane; the second add waits behind it.
    await expect(ref.ask(CounterMessage.Get, null)).resolves.toBe(0);
    gate.resolve();
    await expect(slow).resolves.toBe(5);
    // Not lost: the add ran after the slow one had written its value.
    await expect(add).resolves.toBe(6);
    await router.dispose();
  });

  it('releaseLane() makes a start atomic and lets the long run go on beside later messages', async () => {
    const router = newRouter();
    const ref = router.ref(router.registerActor('counter/b', new Counter()), counterProtocol);
    const gate = deferred();
    const first = ref.ask(CounterMessage.StartLong, { gate: gate.promise }, { timeout: Number.POSITIVE_INFINITY });
    const second = ref.ask(CounterMessage.StartLong, { gate: gate.promise });
    // The second start ran after the first had set its flag, and did not wait for the long run.
    await expect(second).rejects.toThrow('already running');
    await expect(ref.ask(CounterMessage.Add, { by: 2 })).resolves.toBe(2);
    gate.resolve();
    await expect(first).resolves.toBe('finished');
    await router.dispose();
  });

  it('types stream results from the protocol and refuses undeclared types and non-streaming streams', async () => {
    const router = newRouter();
    const deadLetters: string[] = [];
    router.onDeadLetter((letter) => deadLetters.push(letter.reason));
    const ref = router.ref(router.registerActor('counter/c', new Counter()), counterProtocol);
    const result = await ref.stream(CounterMessage.Count, { to: 3 });
    const total: number | undefined = result.data?.total;
    expect(total).toBe(3);
    await expect(router.ask('counter/c', 'explode', {})).rejects.toMatchObject({ code: ErrorCode.UnsupportedMessage });
    await expect(router.stream('counter/c', CounterMessage.Add, { by: 1 }).collect()).rejects.toMatchObject({
      code: ErrorCode.StreamNotSupported,
    });
    expect(router.tell('counter/c', 'explode', {})).toBe(false);
    expect(deadLetters).toEqual([DeadLetterReason.Refused, DeadLetterReason.Refused, DeadLetterReason.Refused]);
    await router.dispose();
  });

  it('a ref of one kind meeting an actor of another gets ACTOR_KIND_MISMATCH', async () => {
    const router = newRouter();
    const other = defineProtocol<CounterProtocol>('gauge', counterProtocol.messages);
    router.registerActor('counter/d', new Counter());
    expect(() => router.ref(address('counter/d'), other)).toThrow(ActorKindMismatchError);
    // A ref made before the actor existed checks on every send.
    const early = router.ref(address('counter/e'), other);
    router.registerActor('counter/e', new Counter());
    await expect(early.ask(CounterMessage.Get, null)).rejects.toMatchObject({ code: 'ACTOR_KIND_MISMATCH' });
    await router.dispose();
  });
});
