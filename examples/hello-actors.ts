/**
 * The README's kernel example, runnable: `npx tsx examples/hello-actors.ts`.
 * A tested file (test/standalone/examples.test.ts), so the README cannot drift from the code.
 */
import {
  Actor,
  type ActorContext,
  type ActorError,
  address,
  type Message,
  MessageRouter,
  type StreamCallback,
  type TokenStreamEventInput,
} from '../src/index.js';

// Message types are constants, not string literals scattered over call sites.
export const CounterMessage = { Add: 'add', Count: 'count' } as const;

/** A counter that answers asks and streams a count-down. */
class Counter extends Actor {
  private total = 0;

  override receive(message: Message, context: ActorContext): unknown {
    if (message.type === CounterMessage.Add) {
      this.total += message.payload as number;
      return this.total;
    }
    return super.receive(message, context); // rejects with UNSUPPORTED_MESSAGE
  }

  override async stream(
    payload: unknown,
    onChunk: StreamCallback<TokenStreamEventInput>,
    { signal }: ActorContext,
  ): Promise<void> {
    for (let n = payload as number; n > 0 && !signal.aborted; n--) {
      await onChunk({ type: 'token', content: `${n} ` }); // awaiting is what makes backpressure work
    }
  }
}

export async function main(write: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  await using router = new MessageRouter();
  const counter = router.registerActor('counter', new Counter());

  // ask: request/response, 5 s timeout unless you pass `timeout`.
  await router.ask(counter, CounterMessage.Add, 2);
  const total = await router.ask<number>(address('counter'), CounterMessage.Add, 3);
  write(`total: ${total}\n`);

  // streamAsk: a callback per event, then the result.
  const result = await router.streamAsk(counter, CounterMessage.Count, 3, {
    onChunk: (event) => {
      if (event.type === 'token') write(event.content ?? '');
    },
  });
  write(`(${result.tokenCount} tokens, finish: ${result.finishReason})\n`);

  // stream: an async iterable you can also await, cancel or leave early.
  const stream = router.stream(counter, CounterMessage.Count, 1_000_000);
  for await (const text of stream.text) {
    write(text);
    if (text.startsWith('999998')) break; // leaving the loop cancels the actor's work
  }
  write('\n');
  const outcome = await stream.then(
    () => 'finished',
    (error: unknown) => (error as ActorError).code,
  );
  write(`after break: ${outcome}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
