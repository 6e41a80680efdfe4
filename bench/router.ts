/**
 * Router overhead, measured side by side in one run:
 *  - `ask` round trips per second against a direct `await fn(x)` doing the same work;
 *  - per-chunk cost of `streamAsk` (callback consumer) and of `stream()` (for-await consumer)
 *    against a direct async producer calling the same consumer.
 * Each case runs several interleaved rounds; the median is reported.
 *
 *   npm run bench            # or: npx tsx bench/router.ts [--rounds 7] [--asks 50000] [--chunks 200000]
 */
import { ForeignLoad } from './ForeignLoad.js';
import { pino } from 'pino';
import {
  Actor,
  type ActorContext,
  type Message,
  MessageRouter,
  type StreamCallback,
  type TokenStreamEvent,
  type TokenStreamEventInput,
} from '../src/index.js';
import { flag, median } from './args.js';

const ROUNDS = flag('rounds', 7);
const ASKS = flag('asks', 50_000);
const CHUNKS = flag('chunks', 200_000);

const BenchMessage = { Add: 'add', Tokens: 'tokens' } as const;

/** The work both sides do per request: trivial, so what is measured is the plumbing. */
const addOne = async (x: number): Promise<number> => x + 1;

/** Produces `count` token events, awaiting the consumer each time (as a model actor would). */
async function produce(count: number, onChunk: StreamCallback<TokenStreamEventInput>, signal?: AbortSignal): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) return;
    await onChunk({ type: 'token', content: 'x', tokenId: i });
  }
}

class BenchActor extends Actor {
  override receive(message: Message): Promise<number> {
    return addOne(message.payload as number);
  }

  override stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    return produce(payload as number, onChunk, context.signal);
  }
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const target = router.registerActor('bench', new BenchActor());
await router.ready(target);

const cases: Record<string, () => Promise<number>> = {
  'direct await fn(x)': async () => {
    const start = process.hrtime.bigint();
    let x = 0;
    for (let i = 0; i < ASKS; i++) x = await addOne(x);
    if (x !== ASKS) throw new Error('wrong sum');
    return elapsedMs(start);
  },
  'router.ask': async () => {
    const start = process.hrtime.bigint();
    let x = 0;
    for (let i = 0; i < ASKS; i++) x = await router.ask<number>(target, BenchMessage.Add, x);
    if (x !== ASKS) throw new Error('wrong sum');
    return elapsedMs(start);
  },
  'direct producer -> callback': async () => {
    let chars = 0;
    const start = process.hrtime.bigint();
    await produce(CHUNKS, (event) => {
      chars += (event.content ?? '').length;
    });
    if (chars !== CHUNKS) throw new Error('lost chunks');
    return elapsedMs(start);
  },
  'router.streamAsk -> callback': async () => {
    let chars = 0;
    const start = process.hrtime.bigint();
    const result = await router.streamAsk(target, BenchMessage.Tokens, CHUNKS, {
      onChunk: (event: TokenStreamEvent) => {
        chars += (event.content ?? '').length;
      },
    });
    if (chars !== CHUNKS || result.tokenCount !== CHUNKS) throw new Error('lost chunks');
    return elapsedMs(start);
  },
  'direct async generator -> for await': async () => {
    async function* generate(): AsyncGenerator<TokenStreamEventInput> {
      for (let i = 0; i < CHUNKS; i++) yield { type: 'token', content: 'x', tokenId: i };
    }
    let chars = 0;
    const start = process.hrtime.bigint();
    for await (const event of generate()) chars += (event.content ?? '').length;
    if (chars !== CHUNKS) throw new Error('lost chunks');
    return elapsedMs(start);
  },
  'router.stream -> for await': async () => {
    let chars = 0;
    const start = process.hrtime.bigint();
    for await (const event of router.stream(target, BenchMessage.Tokens, CHUNKS)) chars += (event.content ?? '').length;
    if (chars !== CHUNKS) throw new Error('lost chunks');
    return elapsedMs(start);
  },
};

const timings = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
for (const run of Object.values(cases)) await run(); // warm-up: JIT and nanoid's pool
const load = new ForeignLoad();
for (let round = 0; round < ROUNDS; round++) {
  // Direct and routed cases alternate, and the order flips every round.
  const entries = Object.entries(cases);
  for (const [name, run] of round % 2 === 0 ? entries : entries.reverse()) timings.get(name)?.push(await load.measure(run));
}
await router.dispose();

const ms = (name: string): number => median(timings.get(name) ?? []);
const askDirect = ms('direct await fn(x)');
const askRouter = ms('router.ask');
const cbDirect = ms('direct producer -> callback');
const cbRouter = ms('router.streamAsk -> callback');
const itDirect = ms('direct async generator -> for await');
const itRouter = ms('router.stream -> for await');
const perChunkUs = (router: number, direct: number): number => ((router - direct) * 1000) / CHUNKS;

console.log(
  `llama-actors router benchmark: node ${process.version}, ${ROUNDS} rounds (median), ${ASKS} asks, ${CHUNKS} chunks; other processes: ${load.coresText} cores`,
);
console.table({
  ask: {
    'router (per s)': Math.round((ASKS * 1000) / askRouter),
    'direct (per s)': Math.round((ASKS * 1000) / askDirect),
    'router/direct time': +(askRouter / askDirect).toFixed(2),
    'overhead (µs each)': +(((askRouter - askDirect) * 1000) / ASKS).toFixed(3),
  },
  'streamAsk chunk': {
    'router (per s)': Math.round((CHUNKS * 1000) / cbRouter),
    'direct (per s)': Math.round((CHUNKS * 1000) / cbDirect),
    'router/direct time': +(cbRouter / cbDirect).toFixed(2),
    'overhead (µs each)': +perChunkUs(cbRouter, cbDirect).toFixed(3),
  },
  'stream() chunk': {
    'router (per s)': Math.round((CHUNKS * 1000) / itRouter),
    'direct (per s)': Math.round((CHUNKS * 1000) / itDirect),
    'router/direct time': +(itRouter / itDirect).toFixed(2),
    'overhead (µs each)': +perChunkUs(itRouter, itDirect).toFixed(3),
  },
});
const worst = Math.max(perChunkUs(cbRouter, cbDirect), perChunkUs(itRouter, itDirect));
console.log(`router overhead per streamed chunk: ${worst.toFixed(3)} µs (target < 2 µs): ${worst < 2 ? 'met' : 'NOT met'}`);
