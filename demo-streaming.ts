/**
 * Streaming demo: `npm run demo` (or `npx tsx demo-streaming.ts`, or `bun demo-streaming.ts`).
 *
 * What it shows today is the actor kernel: a router, an actor at `@(stream-session)`, tokens
 * streamed through `router.streamAsk` and `router.stream`, statistics, fan-out and cancellation.
 * The tokens come from a scripted actor that paces a fixed text like a model would; the
 * model-backed session (a ModelActor owning a GGUF model) replaces it as the runtime grows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Actor,
  type ActorContext,
  address,
  MessageRouter,
  type StreamCallback,
  type TokenStreamEventInput,
} from './src/index.js';

const SessionMessage = { Inference: 'inference' } as const;

const ANSWER =
  'Actors are independent units of state and behaviour that talk only by messages. ' +
  'Because each actor handles one message at a time, a model that cannot be shared ' +
  'can still serve many conversations: they queue at its mailbox and stream back token by token.';

/** Streams ANSWER word by word at a model-like pace, stopping when its signal fires. */
class ScriptedSession extends Actor {
  constructor(private readonly msPerToken: number) {
    super();
  }

  override async stream(
    _payload: unknown,
    onChunk: StreamCallback<TokenStreamEventInput>,
    { signal }: ActorContext,
  ): Promise<void> {
    const words = ANSWER.split(/(?<= )/);
    for (const [index, word] of words.entries()) {
      await sleep(this.msPerToken, undefined, { signal }).catch(() => {});
      if (signal.aborted) return;
      await onChunk({ type: 'token', content: word, tokenId: index });
    }
  }
}

const pace = Number(process.env.DEMO_MS_PER_TOKEN ?? 40);
await using router = new MessageRouter();
router.registerActor('stream-session', new ScriptedSession(pace));
const session = address('stream-session');
console.log(`Real-time streaming demo (scripted session at ${session}, ${pace} ms per token)\n`);

const question = 'Explain how actors work in distributed systems in 2 sentences.';
console.log(`Question: "${question}"\n\nResponse (streaming):\n---`);
const result = await router.streamAsk(
  session,
  SessionMessage.Inference,
  { message: question },
  {
    onChunk: (event) => {
      if (event.type === 'token') process.stdout.write(event.content ?? '');
      else if (event.type === 'error') process.stdout.write(`\n[error ${event.code}] ${event.error}`);
    },
    timeout: 60_000,
  },
);
console.log('\n---\n');
console.log('Statistics:');
console.log(`  tokens:              ${result.tokenCount}`);
console.log(`  time to first token: ${result.timeToFirstTokenMs?.toFixed(1)} ms`);
console.log(`  tokens/s:            ${result.tokensPerSecond.toFixed(1)}`);
console.log(`  total time:          ${result.totalTimeMs.toFixed(0)} ms`);
console.log(`  finish reason:       ${result.finishReason}\n`);

console.log('Fan-out and cancellation: two consumers of one stream, cancelled after 6 tokens');
const stream = router.stream(session, SessionMessage.Inference, { message: question });
const mirror: string[] = [];
stream.subscribe((event) => {
  if (event.type === 'token') mirror.push(event.content ?? '');
});
let seen = 0;
for await (const event of stream) {
  if (event.type === 'token') {
    process.stdout.write(event.content ?? '');
    if (++seen === 6) stream.cancel();
  } else {
    console.log(`\n  -> ${event.type}${event.code ? ` (${event.code})` : ''}`);
  }
}
console.log(`  second consumer saw the same ${mirror.length} tokens: ${JSON.stringify(mirror.join(''))}`);
