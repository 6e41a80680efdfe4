/**
 * The README's kernel example, runnable: `npx tsx examples/hello-actors.ts`.
 *
 * A tested file (test/standalone/examples.test.ts): the test checks that the README's kernel code
 * block is the part of this file between the `README` region markers, and that running it prints
 * exactly the output the README shows.
 */
// #region README
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Actor,
  type ActorContext,
  type ActorError,
  address,
  defineProtocol,
  Lane,
  type Message,
  MessageRouter,
  modelProtocol,
  type StreamCallback,
  type TokenStreamEvent,
  type TokenStreamEventInput,
} from '../src/index.js';

/** What a counter answers: each message type's payload, reply and (if it streams) stream shape. */
export interface CounterProtocol {
  add: { payload: { by: number; delayMs?: number }; reply: number };
  get: { payload: null; reply: number };
  save: { payload: { delayMs: number }; reply: { saved: number } };
  count: { payload: { from: number }; stream: { data: { counted: number } } };
}

// Message types are constants, not string literals scattered over call sites.
export const CounterMessage = { Add: 'add', Get: 'get', Save: 'save', Count: 'count' } as const;

/** Declared once: the kind (the namespace of the counters' ids) and each type's lane. */
export const counterProtocol = defineProtocol<CounterProtocol>('counter', {
  [CounterMessage.Add]: {}, // exclusive (the default): one at a time, in arrival order
  [CounterMessage.Get]: { lane: Lane.Concurrent }, // a read: answered beside whatever runs
  [CounterMessage.Save]: {}, // exclusive, but releases the lane once it has its snapshot
  [CounterMessage.Count]: { lane: Lane.Concurrent, stream: true },
});

class Counter extends Actor {
  override readonly protocol = counterProtocol; // the router refuses every type it does not declare
  private total = 0;

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    switch (message.type) {
      case CounterMessage.Add: {
        const { by, delayMs = 0 } = message.payload as CounterProtocol['add']['payload'];
        const before = this.total;
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: context.signal });
        this.total = before + by; // no lock: no other add runs until this one has returned
        return this.total;
      }
      case CounterMessage.Get:
        return this.total;
      case CounterMessage.Save: {
        const snapshot = this.total; // taken in the exclusive lane: no add is half done
        context.releaseLane(); // the slow write goes on beside the messages after it
        await sleep((message.payload as CounterProtocol['save']['payload']).delayMs, undefined, { signal: context.signal });
        return { saved: snapshot };
      }
      default:
        return super.receive(message, context); // UNSUPPORTED_MESSAGE
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, { signal }: ActorContext): Promise<void> {
    const { from } = payload as CounterProtocol['count']['payload'];
    let n = from;
    for (; n > 0 && !signal.aborted; n--) {
      await onChunk({ type: 'token', content: `${n} ` }); // awaiting is what makes backpressure work
    }
    await onChunk({ type: 'done', data: { counted: from - n } });
  }
}

export async function main(print: (line: string) => void = console.log): Promise<void> {
  await using router = new MessageRouter();
  // A ref types every ask, tell and stream from the protocol, and checks the actor's kind on each send.
  const counter = router.ref(router.registerActor('counter/main', new Counter()), counterProtocol);

  counter.tell(CounterMessage.Add, { by: 2 });
  const total = await counter.ask(CounterMessage.Add, { by: 3 }); // a number; 5 s timeout unless `timeout`
  print(`total: ${total}`);

  // Lanes: the slow add holds the exclusive lane, so the next add waits; `get` answers at once.
  const slow = counter.ask(CounterMessage.Add, { by: 10, delayMs: 20 });
  const next = counter.ask(CounterMessage.Add, { by: 1 });
  print(`get during the slow add: ${await counter.ask(CounterMessage.Get, null)}`);
  print(`the adds, in order: ${await slow}, ${await next}`);

  // releaseLane(): the save's snapshot is atomic, its slow write does not hold up the add after it.
  const save = counter.ask(CounterMessage.Save, { delayMs: 20 });
  const during = await counter.ask(CounterMessage.Add, { by: 4 });
  print(`add during the save: ${during}, saved: ${(await save).saved}`);

  // stream: async-iterable and awaitable; the result is typed from the protocol (`data.counted`).
  const stream = counter.stream(CounterMessage.Count, { from: 3 }).keepResult(); // iterated *and* awaited
  const tokens: string[] = [];
  for await (const text of stream.text) tokens.push(text);
  const result = await stream;
  print(`iterated ${JSON.stringify(tokens)}; result: text ${JSON.stringify(result.text)}, counted ${result.data?.counted}`);

  // The seed's callback form by address: router.streamAsk(address, type, payload, { onChunk }).
  let seen = '';
  const onChunk: StreamCallback<TokenStreamEvent> = (event) => {
    if (event.type === 'token') seen += event.content ?? '';
  };
  const done = await router.streamAsk(address('counter/main'), CounterMessage.Count, { from: 2 }, { onChunk });
  print(`streamAsk: ${seen}(finish: ${done.finishReason})`);

  // Leaving a `for await` early cancels the actor's work.
  const long = counter.stream(CounterMessage.Count, { from: 1_000_000 });
  for await (const text of long.text) {
    if (text.startsWith('999998')) break;
  }
  print(`after break: ${await long.then(() => 'finished', (error: unknown) => (error as ActorError).code)}`);

  // What the protocol does not declare is refused before it reaches the actor.
  const refused = await router.ask(counter.address, 'reset', null).catch((error: unknown) => (error as ActorError).code);
  print(`undeclared type: ${refused}`);
  try {
    router.ref(counter.address, modelProtocol);
  } catch (error) {
    print(`a model ref on a counter: ${(error as ActorError).code}`);
  }
}
// #endregion README

if (import.meta.url === `file://${process.argv[1]}`) await main();
