/**
 * What serving over HTTP costs, measured side by side in one run on the bench model: the same
 * ModelActor streams the same greedy generation (same chat prompt, same `maxTokens`) either to an
 * `openai`-client stream over HTTP (`client.chat.completions.create({ stream: true })` against
 * `createServer` on a free port in this process: fastify, SSE, the client's SSE parser) or to an
 * in-process `router.streamAsk` consumer.
 *
 *  1. one stream: decode tokens/s at the consumer (tokens after the first ÷ time from the first to
 *     the last; target HTTP ÷ in-process ≥ 0.95), time to first token, CPU of this process per token;
 *  2. 8 streams at once (8 prompts, 8 slots): aggregate tokens/s (all tokens ÷ wall time).
 *
 * Rounds are interleaved (the order flips every round); medians are reported.
 *
 *   npx tsx bench/http.ts [--rounds 5] [--tokens 64] [--threads N] [--concurrency 8] [--model bench|tiny|PATH]
 *
 * `--threads` defaults to the runtime's default (every core with the native engine).
 */
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import {
  address,
  createServer,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  type ModelInfo,
  ModelMessage,
  SessionManager,
} from '../src/index.js';
import { loadLlama } from './loadLlama.js';
import { ForeignLoad } from './ForeignLoad.js';
import { PROMPT, PROMPTS } from './prompts.js';
import { median } from './args.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '64' },
    threads: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    model: { type: 'string', default: 'bench' },
  },
});
function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
  return value;
}
const ROUNDS = positiveInt('rounds', values.rounds) as number;
const TOKENS = positiveInt('tokens', values.tokens) as number;
const CONCURRENCY = positiveInt('concurrency', values.concurrency) as number;
const THREADS = positiveInt('threads', values.threads);
const CONTEXT_SIZE = 1024;
const MODEL_ID = 'bench';
const promptAt = (i: number): string => `${PROMPTS[i % PROMPTS.length]}${i >= PROMPTS.length ? ` (${i})` : ''}`;

const range = (values: number[]): string => `${Math.min(...values).toFixed(1)}..${Math.max(...values).toFixed(1)}`;

/** Chunk arrival times of one stream, as its consumer saw them. */
class Arrivals {
  readonly chunks: string[] = [];
  /** Prompt tokens the model found in the slot's KV cache (so did not evaluate). */
  cachedPromptTokens = 0;
  private first = 0;
  private last = 0;

  constructor(readonly started = performance.now()) {}

  add(content: string): void {
    const now = performance.now();
    if (this.chunks.length === 0) this.first = now;
    this.last = now;
    this.chunks.push(content);
  }

  get text(): string {
    return this.chunks.join('');
  }

  /** Tokens after the first ÷ time from the first to the last. */
  get tokensPerSecond(): number {
    return this.chunks.length > 1 && this.last > this.first ? ((this.chunks.length - 1) * 1000) / (this.last - this.first) : 0;
  }

  get timeToFirstTokenMs(): number {
    return this.first - this.started;
  }
}

const modelPath = values.model === 'bench' ? await ensureBenchModel() : values.model === 'tiny' ? await ensureTinyModel() : (values.model as string);
const llama = await loadLlama('auto'); // what the runtime loads: a local build when there is one
const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const store = new MemoryStore();
const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
const sessions = new SessionManager({ router, store, models });
await models.publishProvider({ id: 'local', kind: 'local-llama' });
const model = await models.publishModel({
  id: MODEL_ID,
  provider: address('local'),
  path: modelPath,
  load: { slots: CONCURRENCY, ...(THREADS === undefined ? {} : { threads: THREADS }), contextSize: CONTEXT_SIZE },
});
await models.ensureStarted(model);
const info = await router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 600_000 });
const server = createServer({ router, models, sessions, port: 0, modelDirs: [dirname(modelPath)] });
const url = await server.listen();
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });

async function viaHttp(prompt: string): Promise<Arrivals> {
  const arrivals = new Arrivals();
  const stream = await client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: 'user', content: prompt }],
    max_tokens: TOKENS,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    const content = chunk.choices[0]?.delta?.content;
    if (content) arrivals.add(content);
    if (chunk.usage) arrivals.cachedPromptTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
  }
  return arrivals;
}

async function inProcess(prompt: string): Promise<Arrivals> {
  const arrivals = new Arrivals();
  const result = await router.streamAsk(
    model,
    ModelMessage.Generate,
    { messages: [{ role: 'user', content: prompt }], params: { maxTokens: TOKENS, temperature: 0 } },
    {
      onChunk: (event) => {
        // The same chunks the server forwards: tokens with text.
        if (event.type === 'token' && event.content) arrivals.add(event.content);
        if (event.type === 'done') arrivals.cachedPromptTokens = (event.usage as { cachedPromptTokens?: number } | undefined)?.cachedPromptTokens ?? 0;
      },
    },
  );
  if (result.error) throw result.error;
  return arrivals;
}

interface Aggregate {
  tokensPerSecond: number;
  tokens: number;
  texts: string[];
}
async function concurrent(generate: (prompt: string) => Promise<Arrivals>): Promise<Aggregate> {
  const start = performance.now();
  const runs = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => generate(promptAt(i))));
  const seconds = (performance.now() - start) / 1000;
  const tokens = runs.reduce((sum, run) => sum + run.chunks.length, 0);
  return { tokensPerSecond: tokens / seconds, tokens, texts: runs.map((run) => run.text) };
}

const HTTP_1 = 'openai client over HTTP (SSE)';
const PROC_1 = 'in-process router.streamAsk';
const HTTP_N = `${CONCURRENCY} openai-client streams over HTTP`;
const PROC_N = `${CONCURRENCY} in-process streamAsk`;
const single: Record<string, () => Promise<Arrivals>> = { [HTTP_1]: () => viaHttp(PROMPT), [PROC_1]: () => inProcess(PROMPT) };
const batch: Record<string, () => Promise<Aggregate>> = { [HTTP_N]: () => concurrent(viaHttp), [PROC_N]: () => concurrent(inProcess) };

const ordered = <T>(entries: T[], round: number): T[] => (round % 2 === 0 ? entries : [...entries].reverse());
const load = { single: new ForeignLoad(), batch: new ForeignLoad() };
const rates = new Map<string, number[]>();
const ttft = new Map<string, number[]>();
const cpuPerToken = new Map<string, number[]>();
const cached = new Map<string, number[]>();
const lastText = new Map<string, string>();
const lastTexts = new Map<string, string[]>();
const push = (map: Map<string, number[]>, key: string, value: number) => map.set(key, [...(map.get(key) ?? []), value]);
const began = performance.now();

// Warm-up: page the weights in, fill every slot's buffers, JIT the HTTP and client paths.
for (const run of Object.values(single)) await run();
for (const run of Object.values(batch)) await run();

for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of ordered(Object.entries(single), round)) {
    const result = await load.single.measure(run);
    const cpuMs = load.single.lastCpuMs;
    push(rates, name, result.tokensPerSecond);
    push(ttft, name, result.timeToFirstTokenMs);
    push(cached, name, result.cachedPromptTokens);
    push(cpuPerToken, name, cpuMs / result.chunks.length);
    lastText.set(name, result.text);
  }
  for (const [name, run] of ordered(Object.entries(batch), round)) {
    const result = await load.batch.measure(run);
    const cpuMs = load.batch.lastCpuMs;
    push(rates, name, result.tokensPerSecond);
    push(cpuPerToken, name, cpuMs / result.tokens);
    lastTexts.set(name, result.texts);
  }
}
const minutes = ((performance.now() - began) / 60_000).toFixed(1);
await server.close();
await router.dispose();
await llama.dispose();

const r = (name: string): number => median(rates.get(name) ?? []);
const perRound = (a: string, b: string): number => median((rates.get(a) ?? []).map((value, i) => value / (rates.get(b)?.[i] ?? Number.NaN)));
const singleRatio = r(HTTP_1) / r(PROC_1);
const batchRatio = r(HTTP_N) / r(PROC_N);
const sameSingle = lastText.get(HTTP_1) === lastText.get(PROC_1) ? 'yes' : 'NO';
const sameBatch = JSON.stringify(lastTexts.get(HTTP_N)) === JSON.stringify(lastTexts.get(PROC_N)) ? 'yes' : 'NO';
const cpu = cpus()[0]?.model ?? 'unknown CPU';

console.log(
  `llama-actors HTTP benchmark: node ${process.version}, ${cpu}, ${cpus().length} cores; ${values.model} model ${(info.sizeBytes / 2 ** 20).toFixed(0)} MiB, ` +
    `binary ${llama.buildType}, threads ${info.threads}${values.threads ? '' : ' (runtime default)'}, ${info.slots} slots × ${info.contextSize} tokens, ` +
    `${TOKENS} tokens per request, greedy, ${ROUNDS} rounds (median) in ${minutes} min`,
);
console.log('\n1. One stream: decode tokens/s at the consumer (tokens after the first ÷ first→last)');
console.table(
  Object.fromEntries(
    [HTTP_1, PROC_1].map((name) => [
      name,
      {
        'tokens/s': +r(name).toFixed(1),
        'min..max': range(rates.get(name) ?? []),
        '÷ in-process': +(r(name) / r(PROC_1)).toFixed(3),
        'TTFT (ms)': +median(ttft.get(name) ?? []).toFixed(1),
        // Time to first token depends on how much of the prompt a slot's KV cache already held.
        'cached prompt tokens': median(cached.get(name) ?? []),
        'CPU ms / token': +median(cpuPerToken.get(name) ?? []).toFixed(2),
        'same text': name === PROC_1 ? '' : sameSingle,
      },
    ]),
  ),
);
console.log(
  `HTTP ÷ in-process, one stream: ${singleRatio.toFixed(3)} (target ≥ 0.95): ${singleRatio >= 0.95 ? 'met' : 'NOT met'}; ` +
    `median of per-round ratios: ${perRound(HTTP_1, PROC_1).toFixed(3)}`,
);
console.log(`\n2. ${CONCURRENCY} streams at once (${CONCURRENCY} prompts × ${TOKENS} tokens, ${info.slots} slots): aggregate tokens/s (all tokens ÷ wall time)`);
console.table(
  Object.fromEntries(
    [HTTP_N, PROC_N].map((name) => [
      name,
      {
        'tokens/s': +r(name).toFixed(1),
        'min..max': range(rates.get(name) ?? []),
        '÷ in-process': +(r(name) / r(PROC_N)).toFixed(3),
        '÷ one in-process stream': +(r(name) / r(PROC_1)).toFixed(2),
        'CPU ms / token': +median(cpuPerToken.get(name) ?? []).toFixed(2),
        'same texts': name === PROC_N ? '' : sameBatch,
      },
    ]),
  ),
);
console.log(`HTTP ÷ in-process, ${CONCURRENCY} at once: ${batchRatio.toFixed(3)}; median of per-round ratios: ${perRound(HTTP_N, PROC_N).toFixed(3)}`);
console.log(`\nother processes kept cores busy (average): ${load.single.coresText} during item 1, ${load.batch.coresText} during item 2`);
