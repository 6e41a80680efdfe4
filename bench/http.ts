/**
 * What serving over HTTP costs, measured side by side in one run on the bench model: the same
 * ModelActor streams the same greedy generation (same chat prompt, same `maxTokens`) through each
 * API of `createServer` (on a free port in this process: fastify, SSE or NDJSON) or to an in-process
 * `router.streamAsk` consumer. Each API is read twice: by its own client (`openai`
 * `chat.completions.create({ stream: true })` and `responses.create({ stream: true })`,
 * `@anthropic-ai/sdk` `messages.create({ stream: true })`, `ollama` `chat({ stream: true })`), and by a
 * minimal reader with no client (fetch, split lines, `JSON.parse` each event), which tells the
 * client's cost from the server's and the transport's.
 *
 *  1. one stream: decode tokens/s at the consumer (text deltas after the first ÷ time from the first
 *     to the last; target each API ÷ in-process ≥ 0.95), time to first token, CPU of this process
 *     per token (the model's decode included), events and bytes per text delta; every stream must
 *     produce the in-process run's text and token count, or the run fails;
 *  2. 8 streams at once (8 prompts, 8 slots) through the `openai` client's chat completions:
 *     aggregate tokens/s (all tokens ÷ wall time).
 *
 * Rounds are interleaved (the order rotates every round and flips every other); medians are reported.
 *
 *   npx tsx bench/http.ts [--rounds 5] [--tokens 64] [--threads N] [--concurrency 8] [--model bench|tiny|PATH]
 *
 * `--threads` defaults to the runtime's default (every core with the native engine).
 */
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
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
import { median, ordered } from './args.js';
import { type Arrivals, httpStreams, inProcessStream, type Stream } from './httpClients.js';

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

const PROC_1 = 'in-process router.streamAsk';
const CHAT_CLIENT = 'OpenAI chat completions, client';
const inProcess = inProcessStream(router, model, TOKENS);
const http = httpStreams(url, MODEL_ID, TOKENS);
const single: Record<string, Stream> = { ...http, [PROC_1]: inProcess };

interface Aggregate {
  tokensPerSecond: number;
  tokens: number;
  texts: string[];
}
async function concurrent(generate: Stream): Promise<Aggregate> {
  const start = performance.now();
  const runs = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => generate(promptAt(i))));
  const seconds = (performance.now() - start) / 1000;
  const tokens = runs.reduce((sum, run) => sum + run.chunks.length, 0);
  return { tokensPerSecond: tokens / seconds, tokens, texts: runs.map((run) => run.text) };
}
const HTTP_N = `${CONCURRENCY} openai-client chat streams over HTTP`;
const PROC_N = `${CONCURRENCY} in-process streamAsk`;
const batch: Record<string, () => Promise<Aggregate>> = { [HTTP_N]: () => concurrent(http[CHAT_CLIENT] as Stream), [PROC_N]: () => concurrent(inProcess) };

/** Round `round`'s order: rotated by the round, reversed every other round. */

/** Everything measured, by row name. */
class Samples {
  readonly values = new Map<string, Map<string, number[]>>();
  readonly last = new Map<string, Arrivals>();

  push(name: string, measure: string, value: number): void {
    const row = this.values.get(name) ?? new Map<string, number[]>();
    row.set(measure, [...(row.get(measure) ?? []), value]);
    this.values.set(name, row);
  }

  all(name: string, measure: string): number[] {
    return this.values.get(name)?.get(measure) ?? [];
  }

  median(name: string, measure: string): number {
    return median(this.all(name, measure));
  }

  /** Median over rounds of `name`'s value ÷ `base`'s in the same round. */
  perRound(name: string, base: string, measure = 'tokens/s'): number {
    const bases = this.all(base, measure);
    return median(this.all(name, measure).map((value, i) => value / (bases[i] ?? Number.NaN)));
  }
}

/**
 * What a stream must match: the in-process run's text, text deltas and completion tokens. Returns the
 * problems (a route that produced fewer tokens, another text, other usage).
 */
function check(name: string, round: number, run: Arrivals, reference: Arrivals): string[] {
  const problems: string[] = [];
  const where = `${name}, ${round < 0 ? 'warm-up' : `round ${round + 1}`}`;
  if (run.chunks.length !== reference.chunks.length) problems.push(`${where}: ${run.chunks.length} text deltas, in-process ${reference.chunks.length}`);
  if (run.text !== reference.text) problems.push(`${where}: text differs from in-process (${JSON.stringify(run.text.slice(0, 40))}…)`);
  const tokens = run.usage.completionTokens;
  if (tokens !== reference.usage.completionTokens) problems.push(`${where}: usage says ${tokens} completion tokens, in-process ${reference.usage.completionTokens}`);
  return problems;
}

const load = { single: new ForeignLoad(), batch: new ForeignLoad() };
const samples = new Samples();
const problems: string[] = [];

async function measureRounds(reference: Arrivals): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of ordered(Object.entries(single), round)) {
      const result = await load.single.measure(() => run(PROMPT));
      samples.push(name, 'tokens/s', result.tokensPerSecond);
      samples.push(name, 'ttft', result.timeToFirstTokenMs);
      samples.push(name, 'cached', result.usage.cachedPromptTokens ?? Number.NaN);
      samples.push(name, 'cpu/token', load.single.lastCpuMs / result.chunks.length);
      samples.last.set(name, result);
      problems.push(...check(name, round, result, reference));
    }
    for (const [name, run] of ordered(Object.entries(batch), round)) {
      const result = await load.batch.measure(run);
      samples.push(name, 'tokens/s', result.tokensPerSecond);
      samples.push(name, 'cpu/token', load.batch.lastCpuMs / result.tokens);
      samples.push(name, 'tokens', result.tokens);
      lastTexts.set(name, result.texts);
    }
  }
}

const lastTexts = new Map<string, string[]>();
const began = performance.now();
// Warm-up: page the weights in, fill every slot's buffers, JIT the HTTP and client paths; the
// in-process run is the reference every stream must match.
const reference = await inProcess(PROMPT);
for (const [name, run] of Object.entries(single)) problems.push(...check(name, -1, await run(PROMPT), reference));
for (const run of Object.values(batch)) await run();
await measureRounds(reference);
const minutes = ((performance.now() - began) / 60_000).toFixed(1);
await server.close();
await router.dispose();
await llama.dispose();

const fixed = (value: number, digits: number): number | string => (Number.isFinite(value) ? +value.toFixed(digits) : '');

/** One row of item 1: a stream's medians, its ratios to in-process, and what carried its tokens. */
function singleRow(name: string) {
  const last = samples.last.get(name) as Arrivals;
  const deltas = last.chunks.length;
  const cpu = samples.median(name, 'cpu/token');
  return {
    'tokens/s': fixed(samples.median(name, 'tokens/s'), 1),
    'min..max': range(samples.all(name, 'tokens/s')),
    '÷ in-process': fixed(samples.median(name, 'tokens/s') / samples.median(PROC_1, 'tokens/s'), 3),
    'per-round ÷': name === PROC_1 ? '' : fixed(samples.perRound(name, PROC_1), 3),
    'TTFT (ms)': fixed(samples.median(name, 'ttft'), 1),
    // Time to first token depends on how much of the prompt a slot's KV cache already held.
    cached: fixed(samples.median(name, 'cached'), 0),
    'CPU ms/token': fixed(cpu, 2),
    'Δ CPU ms/token': name === PROC_1 ? '' : fixed(cpu - samples.median(PROC_1, 'cpu/token'), 2),
    'deltas/usage tokens': `${deltas}/${last.usage.completionTokens ?? '?'}`,
    'events/delta': fixed(last.events / deltas, 2),
    'bytes/delta': last.bytes > 0 ? fixed(last.bytes / deltas, 0) : '',
  };
}

function printSingle(): void {
  console.log('\n1. One stream: decode tokens/s at the consumer (text deltas after the first ÷ first→last)');
  console.table(Object.fromEntries(Object.keys(single).map((name) => [name, singleRow(name)])));
  for (const name of Object.keys(http).filter((name) => name.endsWith(', client'))) {
    const ratio = samples.median(name, 'tokens/s') / samples.median(PROC_1, 'tokens/s');
    const raw = name.replace(', client', ', no client');
    console.log(
      `${name.replace(', client', '')} ÷ in-process, one stream: ${ratio.toFixed(3)} (target ≥ 0.95): ${ratio >= 0.95 ? 'met' : 'NOT met'}; ` +
        `per-round ${samples.perRound(name, PROC_1).toFixed(3)}; client ÷ no client ${samples.perRound(name, raw).toFixed(3)} (per-round)`,
    );
  }
}

function printBatch(): void {
  const base = samples.median(PROC_N, 'tokens/s');
  const sameBatch = JSON.stringify(lastTexts.get(HTTP_N)) === JSON.stringify(lastTexts.get(PROC_N)) ? 'yes' : 'NO';
  console.log(`\n2. ${CONCURRENCY} streams at once (${CONCURRENCY} prompts × ${TOKENS} tokens, ${info.slots} slots): aggregate tokens/s (all tokens ÷ wall time)`);
  const row = (name: string) => ({
    'tokens/s': fixed(samples.median(name, 'tokens/s'), 1),
    'min..max': range(samples.all(name, 'tokens/s')),
    '÷ in-process': fixed(samples.median(name, 'tokens/s') / base, 3),
    '÷ one in-process stream': fixed(samples.median(name, 'tokens/s') / samples.median(PROC_1, 'tokens/s'), 2),
    'CPU ms / token': fixed(samples.median(name, 'cpu/token'), 2),
    tokens: samples.median(name, 'tokens'),
    'same texts': name === PROC_N ? '' : sameBatch,
  });
  console.table({ [HTTP_N]: row(HTTP_N), [PROC_N]: row(PROC_N) });
  const ratio = samples.median(HTTP_N, 'tokens/s') / base;
  console.log(`HTTP ÷ in-process, ${CONCURRENCY} at once: ${ratio.toFixed(3)}; median of per-round ratios: ${samples.perRound(HTTP_N, PROC_N).toFixed(3)}`);
  if (sameBatch !== 'yes') problems.push(`${HTTP_N}: texts differ from in-process`);
}

/** The token counts every route produced against the in-process run's; coalescing noted. */
function printTokens(): void {
  const deltas = reference.chunks.length;
  const tokens = reference.usage.completionTokens;
  console.log(`\nin-process: ${deltas} token events with text, ${tokens} completion tokens${tokens === deltas ? '' : ` (${(tokens ?? 0) - deltas} token events without text)`}`);
  const coalescing = [...samples.last].filter(([, run]) => (run.usage.completionTokens ?? 0) > run.chunks.length).map(([name, run]) => `${name} (${run.usage.completionTokens} tokens in ${run.chunks.length} deltas)`);
  console.log(coalescing.length === 0 ? 'no API coalesces tokens: one text delta per token with text on every route' : `coalesced: ${coalescing.join(', ')}`);
  if (problems.length > 0) {
    console.error(`\nFAILED: ${problems.length} stream(s) did not match the in-process run:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log(`every stream (${ROUNDS} rounds + warm-up, ${Object.keys(single).length} streams each) matched the in-process text and token count`);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `llama-actors HTTP benchmark: node ${process.version}, ${cpu}, ${cpus().length} cores; ${values.model} model ${(info.sizeBytes / 2 ** 20).toFixed(0)} MiB, ` +
    `${info.engine} engine, binary ${llama.buildType}, threads ${info.threads}${values.threads ? '' : ' (runtime default)'}, ${info.slots} slots × ${info.contextSize} tokens, ` +
    `${TOKENS} tokens per request, greedy, ${ROUNDS} rounds (median) in ${minutes} min`,
);
printSingle();
printBatch();
printTokens();
console.log(`\nother processes kept cores busy (average): ${load.single.coresText} during item 1, ${load.batch.coresText} during item 2`);
