/**
 * One stream through a SessionActor ÷ the same stream straight to the model, measured side by side
 * in one run: the cost of a session being a straight pipe (each model event awaited by the caller
 * before the next is read). Both sides send the same conversation (one user message, no system
 * prompt), greedy, the same maxTokens, to one ModelActor; a fresh session each round, so no side
 * reuses a KV cache the other filled. Decode rate = tokens after the first ÷ time from the first to
 * the last token, as the consumer receives them; rounds alternate their order; medians reported,
 * with the other processes' CPU use. Target ≥ 0.98.
 *
 *   npx tsx bench/sessionPipe.ts [--model bench|tiny|PATH] [--rounds 7] [--tokens 64] [--threads 2] [--engine native|node-llama-cpp]
 */
import { getLlama } from 'node-llama-cpp';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import { MemoryStore } from '../src/entities/store/MemoryStore.js';
import {
  address,
  LocalLlamaProvider,
  MessageRouter,
  type ModelEngine,
  ModelManager,
  ModelMessage,
  SessionManager,
  SessionMessage,
  sessionProtocol,
  type TokenStreamEvent,
} from '../src/index.js';
import { flag, median } from './args.js';
import { ForeignLoad } from './ForeignLoad.js';
import { PROMPT } from './prompts.js';

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
const ROUNDS = flag('rounds', 7);
const TOKENS = flag('tokens', 64);
const THREADS = flag('threads', 2);
const ENGINE = (argument('engine') ?? 'native') as ModelEngine;
const MODEL = argument('model') ?? 'bench';
const modelPath = MODEL === 'bench' ? await ensureBenchModel() : MODEL === 'tiny' ? await ensureTinyModel() : MODEL;

/** Decode rate of one stream as its consumer sees it: tokens after the first ÷ first-to-last time. */
async function decodeRate(events: AsyncIterable<TokenStreamEvent<unknown>>): Promise<{ rate: number; tokens: number }> {
  let first = 0;
  let last = 0;
  let tokens = 0;
  for await (const event of events) {
    if (event.type === 'token') {
      last = performance.now();
      if (tokens === 0) first = last;
      tokens++;
    } else if (event.type === 'error') throw new Error(`${event.code}: ${event.error}`);
  }
  return { rate: tokens > 1 ? ((tokens - 1) * 1000) / (last - first) : 0, tokens };
}

const llama = await getLlama({ gpu: false, build: 'never' });
const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 600_000 });
const store = new MemoryStore();
const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
await models.publishProvider({ id: 'provider', kind: 'local-llama' });
await models.publishModel({
  id: 'model',
  provider: address('provider'),
  path: modelPath,
  load: { slots: 2, threads: THREADS, contextSize: 1024, engine: ENGINE },
});
const sessions = new SessionManager({ router, store, models });
const model = await models.ref('model');
const info = await model.ask(ModelMessage.Info, null, { timeout: 600_000 });
const params = { maxTokens: TOKENS, temperature: 0 };
const messages = [{ role: 'user' as const, content: PROMPT }];

const sides = {
  direct: async () => decodeRate(model.stream(ModelMessage.Generate, { messages, params })),
  session: async () => {
    const chat = router.ref(await sessions.create({ model: 'model' }), sessionProtocol);
    return decodeRate(chat.stream(SessionMessage.Inference, { message: PROMPT, params }));
  },
};
const rates: Record<keyof typeof sides, number[]> = { direct: [], session: [] };
await sides.direct(); // warm-up: the first decode of a process is slower on both sides
await sides.session();
const load = new ForeignLoad();
for (let round = 0; round < ROUNDS; round++) {
  const order: Array<keyof typeof sides> = round % 2 === 0 ? ['direct', 'session'] : ['session', 'direct'];
  for (const side of order) {
    const { rate, tokens } = await load.measure(sides[side]);
    if (tokens < TOKENS) throw new Error(`${side} stopped after ${tokens} tokens, wanted ${TOKENS}: a shorter stream is not comparable`);
    rates[side].push(rate);
  }
}
const direct = median(rates.direct);
const session = median(rates.session);
const range = (values: number[]) => `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`;
console.log(
  `session pipe: ${modelPath} (${info.engine} engine, ${THREADS} threads, ${ROUNDS} rounds, ${TOKENS} tokens; other processes: ${load.coresText} cores)`,
);
console.log('| measure | tok/s | range |');
console.log('|---|---|---|');
console.log(`| one stream straight to the model | ${direct.toFixed(1)} | ${range(rates.direct)} |`);
console.log(`| the same stream through a session | ${session.toFixed(1)} | ${range(rates.session)} |`);
console.log(`| through a session ÷ straight (target ≥ 0.98) | ${(session / direct).toFixed(3)} | |`);
await router.dispose();
await store.dispose();
await llama.dispose();
