/**
 * What the openai-compatible provider costs: one stream from a real llama.cpp `llama-server` (built
 * from the llama.cpp node-llama-cpp bundles, serving the same GGUF), read three ways in one run,
 * one after the other, the order rotating every round:
 *
 *  - `direct`: the `openai` client calling llama-server (what an app would do without this runtime);
 *  - `provider`: a RemoteModelActor through the router (`ModelMessage.Generate` streamed);
 *  - `HTTP front`: the `openai` client calling this runtime's server, whose model is that remote
 *    (client → llama-actors → llama-server: what `serve --remote` gives).
 *
 * Decode tokens/s at the consumer (deltas after the first ÷ first→last) and the time to first delta
 * (every measured run finds the round's prompt in llama-server's cache: an uncounted run put it there);
 * ratios are taken round by round (each ÷ the direct run of the same round), then the median.
 * Every stream must give the direct run's greedy text. Target: provider ÷ direct ≥ 0.95. This
 * process's CPU per token is printed too (the client, or the router and actor, or also the server).
 *
 *   npx tsx bench/remote.ts [--rounds 7] [--tokens 128] [--model bench|tiny|PATH] [--threads 2]
 */
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import {
  address,
  createServer,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  OpenAICompatibleProvider,
  SessionManager,
} from '../src/index.js';
import { startLlamaServer } from '../test/model/helpers/llamaServer.js';
import { median } from './args.js';
import { ForeignLoad } from './ForeignLoad.js';
import { PROMPTS } from './prompts.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    tokens: { type: 'string', default: '128' },
    model: { type: 'string', default: 'bench' },
    threads: { type: 'string', default: '2' },
  },
});
const ROUNDS = Number(values.rounds);
const TOKENS = Number(values.tokens);
const THREADS = Number(values.threads);
for (const [name, value] of [['rounds', ROUNDS], ['tokens', TOKENS], ['threads', THREADS]] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
}
const modelPath = values.model === 'bench' ? await ensureBenchModel() : values.model === 'tiny' ? await ensureTinyModel() : (values.model as string);
/** `</s>` and `<|im_end|>` of the generated vocabularies, banned so every run is exactly TOKENS deltas. */
const NO_END = { 2: -100, 4: -100 };

const server = await startLlamaServer({ model: modelPath, slots: 1, contextSize: 2048, threads: THREADS });
const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const store = new MemoryStore();
const models = new ModelManager({ router, store, providers: [new OpenAICompatibleProvider()] });
const sessions = new SessionManager({ router, store, models });
await models.publishProvider({ id: 'llama-server', kind: 'openai-compatible', settings: { baseURL: server.baseURL } });
await models.publishModel({ id: 'remote', provider: address('llama-server'), remote: { model: 'remote', maxConcurrent: 1 } });
const front = createServer({ router, models, sessions, store, port: 0, logger: pino({ level: 'silent' }) });
const frontUrl = await front.listen();
// The clients' default retries, as an app has them: llama-server closes a kept-alive connection
// after 5 s idle, and a request sent on it just then is retried on a new one.
const directClient = new OpenAI({ baseURL: server.baseURL, apiKey: 'none' });
const frontClient = new OpenAI({ baseURL: `${frontUrl}/v1`, apiKey: 'none' });
const provider = await models.ref('remote');

type Run = { text: string; times: number[]; started: number };
const VARIANTS = ['direct', 'provider', 'HTTP front'] as const;
type Variant = (typeof VARIANTS)[number];

async function viaClient(client: OpenAI, prompt: string): Promise<Run> {
  const run: Run = { text: '', times: [], started: performance.now() };
  const stream = await client.chat.completions.create({
    model: 'remote',
    messages: [{ role: 'user', content: prompt }],
    max_tokens: TOKENS,
    temperature: 0,
    logit_bias: NO_END,
    stream: true,
  });
  for await (const chunk of stream) {
    const content = chunk.choices[0]?.delta.content;
    if (!content) continue;
    run.times.push(performance.now());
    run.text += content;
  }
  return run;
}

async function viaProvider(prompt: string): Promise<Run> {
  const run: Run = { text: '', times: [], started: performance.now() };
  const stream = provider.stream(ModelMessage.Generate, {
    messages: [{ role: 'user', content: prompt }],
    params: { maxTokens: TOKENS, temperature: 0, logitBias: NO_END },
  });
  for await (const event of stream) {
    if (event.type !== 'token' || !event.content) continue;
    run.times.push(performance.now());
    run.text += event.content;
  }
  return run;
}

const runners: Record<Variant, (prompt: string) => Promise<Run>> = {
  direct: (prompt) => viaClient(directClient, prompt),
  provider: viaProvider,
  'HTTP front': (prompt) => viaClient(frontClient, prompt),
};
const rate = (run: Run) => ((run.times.length - 1) * 1000) / ((run.times.at(-1) as number) - (run.times[0] as number));
const ttft = (run: Run) => (run.times[0] as number) - run.started;

const load = new ForeignLoad();
const samples: Record<Variant, { rate: number[]; ttft: number[]; cpu: number[] }> = {
  direct: { rate: [], ttft: [], cpu: [] },
  provider: { rate: [], ttft: [], cpu: [] },
  'HTTP front': { rate: [], ttft: [], cpu: [] },
};
const problems: string[] = [];
// One warm-up of each, not counted: the first request loads llama-server's prompt cache and the clients' connections.
for (const variant of VARIANTS) await runners[variant](PROMPTS[0] as string);
for (let round = 0; round < ROUNDS; round += 1) {
  const prompt = `${PROMPTS[round % PROMPTS.length]} (${round})`;
  const shift = round % VARIANTS.length;
  const order = [...VARIANTS.slice(shift), ...VARIANTS.slice(0, shift)];
  // Uncounted: puts the round's prompt in llama-server's prompt cache, so no measured run pays its
  // prefill for the others (each would otherwise find what the one before it left).
  await runners.direct(prompt);
  const runs = new Map<Variant, Run>();
  for (const variant of order) {
    const run = await load.measure(() => runners[variant](prompt), [server.pid]);
    runs.set(variant, run);
    samples[variant].rate.push(rate(run));
    samples[variant].ttft.push(ttft(run));
    samples[variant].cpu.push((load.lastCpuMs * 1000) / TOKENS);
  }
  const reference = runs.get('direct') as Run;
  for (const variant of VARIANTS) {
    const run = runs.get(variant) as Run;
    if (run.text !== reference.text) problems.push(`round ${round + 1}, ${variant}: text differs from direct`);
    // A delta per token, as llama-server sent them (a piece of a multi-byte character comes with the next).
    if (run.times.length !== reference.times.length) problems.push(`round ${round + 1}, ${variant}: ${run.times.length} deltas, direct ${reference.times.length}`);
  }
}

const perRound = (variant: Variant, measure: 'rate' | 'ttft', of: (a: number, b: number) => number) =>
  median(samples[variant][measure].map((value, i) => of(value, samples.direct[measure][i] as number)));
console.log(`\nopenai-compatible provider vs the openai client, llama-server (bundled llama.cpp) on ${modelPath}`);
console.log(`${ROUNDS} rounds × ${TOKENS} tokens, ${THREADS} threads, 1 slot; other processes: ${load.coresText}\n`);
console.log('| path | decode tok/s (median, range) | ÷ direct, per round | TTFT ms (median) | + TTFT vs direct, per round | this process µs CPU / token |');
console.log('|---|---|---|---|---|---|');
for (const variant of VARIANTS) {
  const { rate: rates, ttft: ttfts } = samples[variant];
  const range = `${Math.min(...rates).toFixed(1)}–${Math.max(...rates).toFixed(1)}`;
  const ratio = variant === 'direct' ? '' : perRound(variant, 'rate', (a, b) => a / b).toFixed(3);
  const added = variant === 'direct' ? '' : `${perRound(variant, 'ttft', (a, b) => a - b).toFixed(2)} ms`;
  console.log(`| ${variant} | ${median(rates).toFixed(1)} (${range}) | ${ratio} | ${median(ttfts).toFixed(1)} | ${added} | ${median(samples[variant].cpu).toFixed(0)} |`);
}
if (problems.length > 0) {
  console.log(`\nPROBLEMS:\n${problems.join('\n')}`);
  process.exitCode = 1;
}
await router.dispose();
await front.close();
await store.dispose();
await server.stop();
