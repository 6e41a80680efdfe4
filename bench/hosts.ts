/**
 * What a model host costs: the same model (same load options, same threads) served side by side in
 * one run by a ModelActor in this process (`new LocalLlamaProvider()`) and by one in a model host
 * (`new LocalLlamaProvider({ isolation: 'process' })`: a ModelHostActor forwarding every message
 * through the kernel's transport to a ModelActor in a forked child). Both make their own `Llama`.
 * They share the machine's cores, so they are measured one after the other, never at once:
 *
 *  1. one stream: decode tokens/s at the consumer (tokens after the first ÷ first→last; target host ÷
 *     in process ≥ 0.98), TTFT, inter-chunk gaps and the latency the host adds per chunk, CPU per token;
 *  2. 8 streams at once (8 prompts, 8 slots): aggregate tokens/s (target host ÷ in process ≥ 0.98);
 *  3. cold starts: the host's spawn → answering (`status().host.startupMs`) and its model load (until
 *     `ModelMessage.Info` answers), beside the in-process load; 4. the host's RSS beside this process's.
 *
 * Every stream must give the in-process run's greedy text, or the run fails. Rounds are interleaved
 * (the order rotates every round and flips every other); medians are reported.
 *
 *   npx tsx bench/hosts.ts [--rounds 5] [--tokens 64] [--concurrency 8] [--threads N] [--model bench|tiny|PATH]
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { getLlama } from 'node-llama-cpp';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import { type Address, address, LocalLlamaProvider, MessageRouter, ModelMessage, type ModelInfo, type ModelStatus } from '../src/index.js';
import { median, ordered } from './args.js';
import { ForeignLoad } from './ForeignLoad.js';
import { PROMPT, PROMPTS } from './prompts.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '8' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'bench' },
  },
});
function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw !== undefined && !(Number.isInteger(Number(raw)) && Number(raw) >= 1)) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
  return raw === undefined ? undefined : Number(raw);
}
const ROUNDS = positiveInt('rounds', values.rounds) as number;
const TOKENS = positiveInt('tokens', values.tokens) as number;
const CONCURRENCY = positiveInt('concurrency', values.concurrency) as number;
const THREADS = positiveInt('threads', values.threads);
// The tiny model was trained with 512 tokens of context: more would make llama.cpp warn.
const LOAD = { slots: CONCURRENCY, contextSize: values.model === 'tiny' ? 512 : 1024, ...(THREADS === undefined ? {} : { threads: THREADS }) };
/** A pause before each measured run: after a generation a thread of the model's process spins on a core for ~0.3 s (llama.cpp's thread pool polling for work), which would slow whichever variant runs next. */
const SETTLE_MS = 750;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
const promptAt = (i: number): string => `${PROMPTS[i % PROMPTS.length]}${i >= PROMPTS.length ? ` (${i})` : ''}`;

const HOST = 'process host';
const IN_PROCESS = 'in process';
type Variant = typeof HOST | typeof IN_PROCESS;
const VARIANTS: Variant[] = [HOST, IN_PROCESS];

const rssAtStart = process.memoryUsage().rss;
const modelPath = values.model === 'bench' ? await ensureBenchModel() : values.model === 'tiny' ? await ensureTinyModel() : (values.model as string);
const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const providers = { [HOST]: new LocalLlamaProvider({ isolation: 'process' }), [IN_PROCESS]: new LocalLlamaProvider() };

/** Registers `variant`'s model at `id` (its host spawned, or its load begun). */
function register(variant: Variant, id: string): Address {
  const { actor, options } = providers[variant].createModelActor({ id, provider: address('local'), path: modelPath, load: LOAD });
  return router.registerActor(id, actor, options);
}
const info = (model: Address) => router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 600_000 });
const status = (model: Address) => router.ask<ModelStatus>(model, ModelMessage.Status, null, { timeout: 10_000 });

const models: Record<Variant, Address> = { [HOST]: register(HOST, 'bench/host'), [IN_PROCESS]: register(IN_PROCESS, 'bench/in-process') };
const infos = { [HOST]: await info(models[HOST]), [IN_PROCESS]: await info(models[IN_PROCESS]) };
const hostPid = (await status(models[HOST])).host?.pid as number;

/** CPU time (user + system) of a live process, in ms, from /proc (0 where it cannot be read). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return (((fields[11] ?? 0) + (fields[12] ?? 0)) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** One stream as its consumer saw it: the text of each token event and when it came. */
type Run = { chunks: string[]; times: number[]; started: number };
const tokensPerSecond = (run: Run): number => ((run.times.length - 1) * 1000) / ((run.times.at(-1) as number) - (run.times[0] as number));
const gapsUs = (run: Run): number[] => run.times.slice(1).map((time, i) => (time - (run.times[i] as number)) * 1000);

async function generate(model: Address, prompt: string): Promise<Run> {
  const run: Run = { chunks: [], times: [], started: performance.now() };
  const payload = { messages: [{ role: 'user', content: prompt }], params: { maxTokens: TOKENS, temperature: 0 } };
  const result = await router.streamAsk(model, ModelMessage.Generate, payload, {
    onChunk: (event) => {
      if (event.type !== 'token' || !event.content) return;
      run.times.push(performance.now());
      run.chunks.push(event.content);
    },
  });
  if (result.error) throw result.error;
  return run;
}
const concurrent = (model: Address): Promise<Run[]> => Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => generate(model, promptAt(i))));

/** Every measure, by variant then name, one value per round. */
const samples = new Map<string, number[]>();
const push = (variant: Variant, measure: string, value: number) => samples.set(`${variant}|${measure}`, [...all(variant, measure), value]);
const all = (variant: Variant, measure: string): number[] => samples.get(`${variant}|${measure}`) ?? [];
const med = (variant: Variant, measure: string): number => median(all(variant, measure));
const ratio = (host: number, base: number) => host / base;
const difference = (host: number, base: number) => host - base;
/** Median over rounds (those in `only`, if given) of the host's value ÷ (or `of`) the in-process one of the same round. */
const perRound = (measure: string, of = ratio, only?: number[]): number => {
  const bases = all(IN_PROCESS, measure);
  const pairs = all(HOST, measure).map((value, i) => of(value, bases[i] as number));
  return median(only ? only.map((i) => pairs[i] as number) : pairs);
};
/** Other processes' cores under which a round counts as quiet (both its runs of an item). */
const QUIET = 0.1;
const quietRounds = (prefix: string): number[] =>
  all(HOST, `${prefix} foreign`).flatMap((cores, i) => (cores < QUIET && (all(IN_PROCESS, `${prefix} foreign`)[i] ?? 1) < QUIET ? [i] : []));

const problems: string[] = [];
/** The texts (and chunk counts) `runs` must match: `reference`'s, prompt by prompt. */
function check(where: string, runs: Run[], reference: Run[]): void {
  runs.forEach((run, i) => {
    const want = reference[i] as Run;
    if (run.chunks.join('') !== want.chunks.join('')) problems.push(`${where}, stream ${i + 1}: text differs from in process (${JSON.stringify(run.chunks.join('').slice(0, 40))}…)`);
    else if (run.chunks.length !== want.chunks.length) problems.push(`${where}, stream ${i + 1}: ${run.chunks.length} chunks, in process ${want.chunks.length}`);
  });
}

/** Round `round`'s order: rotated by the round, reversed every other round. */

const load = { single: new ForeignLoad(), batch: new ForeignLoad(), starts: new ForeignLoad() };

/** Runs `work`, recording this process's and the host's CPU ms per token and the other processes' cores under `prefix`. */
async function measured<T>(variant: Variant, prefix: string, foreign: ForeignLoad, work: () => Promise<T>, tokens: (result: T) => number): Promise<T> {
  await settle();
  const hostBefore = cpuMsOf(hostPid);
  const alone = new ForeignLoad();
  const result = await foreign.measure(() => alone.measure(work, [hostPid]), [hostPid]);
  push(variant, `${prefix} foreign`, alone.cores);
  push(variant, `${prefix} cpu`, foreign.lastCpuMs / tokens(result));
  push(variant, `${prefix} host cpu`, (cpuMsOf(hostPid) - hostBefore) / tokens(result));
  return result;
}

async function single(variant: Variant, where: string, reference: Run): Promise<void> {
  const run = await measured(variant, 'single', load.single, () => generate(models[variant], PROMPT), (run) => run.chunks.length);
  check(`${variant}, one stream, ${where}`, [run], [reference]);
  const gaps = gapsUs(run);
  push(variant, 'tokens/s', tokensPerSecond(run));
  push(variant, 'ttft', (run.times[0] as number) - run.started);
  push(variant, 'mean gap', gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length);
  push(variant, 'median gap', median(gaps));
}

async function batch(variant: Variant, where: string, reference: Run[]): Promise<void> {
  const started = performance.now();
  const runs = await measured(variant, 'batch', load.batch, () => concurrent(models[variant]), (runs) => runs.reduce((sum, run) => sum + run.chunks.length, 0));
  const tokens = runs.reduce((sum, run) => sum + run.chunks.length, 0);
  push(variant, 'aggregate', (tokens * 1000) / (performance.now() - started));
  push(variant, 'batch tokens', tokens);
  check(`${variant}, ${CONCURRENCY} streams, ${where}`, runs, reference);
}

/** A cold start: a fresh actor (and host) at its own address, until it answers and until its model is loaded; then disposed. */
async function coldStart(variant: Variant, round: number): Promise<void> {
  await settle();
  const rss = await load.starts.measure(async () => {
    const started = performance.now();
    const model = register(variant, `cold/${variant === HOST ? 'host' : 'in-process'}-${round}`);
    await router.ready(model);
    push(variant, 'answering', performance.now() - started);
    await info(model);
    push(variant, 'loaded', performance.now() - started);
    const { host } = await status(model);
    if (host?.startupMs !== undefined) push(variant, 'startupMs', host.startupMs);
    await router.unregisterActor(model);
    return host?.rssBytes;
  });
  if (rss !== undefined) push(variant, 'cold rss', rss);
}

/** What each ModelActor does first when given no `Llama`: getLlama (it probes and tests the binaries in child processes). */
async function bareLlama(): Promise<void> {
  const started = performance.now();
  const llama = await load.starts.measure(() => getLlama({ gpu: 'auto', build: 'never' }));
  push(IN_PROCESS, 'getLlama', performance.now() - started);
  await llama.dispose();
}

const began = performance.now();
// Warm-up: page the weights in, fill every slot's buffers; the in-process runs are the reference.
const reference = { single: await generate(models[IN_PROCESS], PROMPT), batch: await concurrent(models[IN_PROCESS]) };
check(`${HOST}, one stream, warm-up`, [await generate(models[HOST], PROMPT)], [reference.single]);
check(`${HOST}, ${CONCURRENCY} streams, warm-up`, await concurrent(models[HOST]), reference.batch);
for (let round = 0; round < ROUNDS; round++) {
  const where = `round ${round + 1}`;
  for (const variant of ordered(VARIANTS, round)) await single(variant, where, reference.single);
  for (const variant of ordered(VARIANTS, round)) await batch(variant, where, reference.batch);
  for (const variant of ordered(VARIANTS, round)) await coldStart(variant, round);
  await bareLlama();
}
const minutes = ((performance.now() - began) / 60_000).toFixed(1);
const hostStatus = (await status(models[HOST])).host;
const rssNow = process.memoryUsage().rss;
await router.dispose();

const fixed = (value: number, digits: number): number | string => (Number.isFinite(value) ? +value.toFixed(digits) : '');
const range = (values: number[], digits = 1): string => `${Math.min(...values).toFixed(digits)}..${Math.max(...values).toFixed(digits)}`;
const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
/** Each round's `measure`, host / in process, with the other processes' cores during each run. */
function rounds(measure: string, prefix: string): string {
  const [host, base, hostLoad, baseLoad] = [all(HOST, measure), all(IN_PROCESS, measure), all(HOST, `${prefix} foreign`), all(IN_PROCESS, `${prefix} foreign`)];
  return host.map((value, i) => `${value.toFixed(1)}/${base[i]?.toFixed(1)} (${hostLoad[i]?.toFixed(2)}/${baseLoad[i]?.toFixed(2)})`).join(', ');
}

function printSingle(): void {
  console.log('\n1. One stream: decode tokens/s at the consumer (tokens after the first ÷ first→last)');
  const row = (variant: Variant) => ({
    'tokens/s': fixed(med(variant, 'tokens/s'), 1),
    'min..max': range(all(variant, 'tokens/s')),
    '÷ in process': fixed(med(variant, 'tokens/s') / med(IN_PROCESS, 'tokens/s'), 3),
    'TTFT (ms)': fixed(med(variant, 'ttft'), 2),
    'mean gap (µs)': fixed(med(variant, 'mean gap'), 0),
    'median gap (µs)': fixed(med(variant, 'median gap'), 0),
    'CPU ms/token, this process': fixed(med(variant, 'single cpu'), 3),
    'CPU ms/token, host': fixed(med(variant, 'single host cpu'), 3),
  });
  console.table({ [HOST]: row(HOST), [IN_PROCESS]: row(IN_PROCESS) });
  const quiet = quietRounds('single');
  console.log(`per round, tokens/s host/in process (other processes' cores during each): ${rounds('tokens/s', 'single')}`);
  console.log(`host ÷ in process, one stream: ${ratios('tokens/s', quiet)}`);
  console.log(
    `added per chunk: ${((1 / med(HOST, 'tokens/s') - 1 / med(IN_PROCESS, 'tokens/s')) * 1e6).toFixed(1)} µs from the median rates (1/host − 1/in process); ` +
      `over the quiet rounds, per-round difference of the mean gap ${perRound('mean gap', difference, quiet).toFixed(1)} µs, ` +
      `of the median gap ${perRound('median gap', difference, quiet).toFixed(1)} µs, of TTFT ${perRound('ttft', difference, quiet).toFixed(2)} ms`,
  );
}

/** The host ÷ in-process figures of `measure`: of the medians, per round, per quiet round, and the target. */
function ratios(measure: string, quiet: number[]): string {
  const quietRatio = perRound(measure, ratio, quiet);
  const target = quiet.length === 0 ? 'no quiet round' : `target ≥ 0.98 ${quietRatio >= 0.98 ? 'met' : 'NOT met'} on the quiet rounds`;
  return (
    `${(med(HOST, measure) / med(IN_PROCESS, measure)).toFixed(3)} of the medians, per-round ${perRound(measure).toFixed(3)}, ` +
    `per-round over the ${quiet.length} quiet round(s) (other processes < ${QUIET} cores in both runs) ${quietRatio.toFixed(3)}: ${target}`
  );
}

function printBatch(): void {
  console.log(`\n2. ${CONCURRENCY} streams at once (${CONCURRENCY} prompts × ${TOKENS} tokens, ${infos[HOST].slots} slots): aggregate tokens/s (all tokens ÷ wall time)`);
  const row = (variant: Variant) => ({
    'tokens/s': fixed(med(variant, 'aggregate'), 1),
    'min..max': range(all(variant, 'aggregate')),
    '÷ in process': fixed(med(variant, 'aggregate') / med(IN_PROCESS, 'aggregate'), 3),
    tokens: med(variant, 'batch tokens'),
    'CPU ms/token, this process': fixed(med(variant, 'batch cpu'), 3),
    'CPU ms/token, host': fixed(med(variant, 'batch host cpu'), 3),
  });
  console.table({ [HOST]: row(HOST), [IN_PROCESS]: row(IN_PROCESS) });
  console.log(`per round, tokens/s host/in process (other processes' cores during each): ${rounds('aggregate', 'batch')}`);
  console.log(`host ÷ in process, ${CONCURRENCY} at once: ${ratios('aggregate', quietRounds('batch'))}`);
}

function printStarts(): void {
  console.log(`\n3. Cold starts (${ROUNDS} of each, register → answering → Info answers, then unregistered; the file in the page cache), ms`);
  const row = (variant: Variant) => ({
    'answering (ready)': fixed(med(variant, 'answering'), 0),
    'min..max': range(all(variant, 'answering'), 0),
    'host.startupMs': fixed(med(variant, 'startupMs'), 0),
    'model loaded (Info)': fixed(med(variant, 'loaded'), 0),
    'min..max ': range(all(variant, 'loaded'), 0),
    'load after answering': fixed(median(all(variant, 'loaded').map((loaded, i) => loaded - (all(variant, 'answering')[i] as number))), 0),
  });
  console.table({ [HOST]: row(HOST), [IN_PROCESS]: row(IN_PROCESS) });
  const extra = med(HOST, 'loaded') - med(IN_PROCESS, 'loaded');
  console.log(`getLlama({ gpu: 'auto', build: 'never' }) alone, which each ModelActor calls first: ${med(IN_PROCESS, 'getLlama').toFixed(0)} ms (${range(all(IN_PROCESS, 'getLlama'), 0)})`);
  console.log(`a host is ready ${extra.toFixed(0)} ms later than an in-process model (${(med(HOST, 'loaded') / med(IN_PROCESS, 'loaded')).toFixed(2)}×)`);
}

function printMemory(): void {
  console.log(
    `\n4. Resident memory: the host ${mib(hostStatus?.rssBytes)} (a cold host right after load: ${mib(med(HOST, 'cold rss'))}); ` +
      `this process ${mib(rssNow)} (holding the in-process model; ${mib(rssAtStart)} at start)`,
  );
}

function printChecks(): void {
  const same = (key: keyof ModelInfo) => infos[HOST][key] === infos[IN_PROCESS][key];
  const differing = (['engine', 'threads', 'slots', 'contextSize', 'batchSize', 'localBuild', 'gpu'] as const).filter((key) => !same(key));
  if (differing.length > 0) problems.push(`the two loads differ in ${differing.join(', ')}`);
  if ((hostStatus?.restarts ?? 0) > 0) problems.push(`the host restarted ${hostStatus?.restarts} time(s) (${hostStatus?.lastExit})`);
  if (problems.length > 0) {
    console.error(`\nFAILED: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log(`\nevery stream (warm-up + ${ROUNDS} rounds, 1 + ${CONCURRENCY} per variant) gave the in-process text and chunk count in both variants`);
}

const { engine, threads, slots, contextSize, sizeBytes, localBuild } = infos[IN_PROCESS];
console.log(
  `llama-actors model host benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ${values.model} model ${mib(sizeBytes)}, ` +
    `${engine} engine, binary ${localBuild ? 'local build' : 'prebuilt'}, threads ${threads}${THREADS === undefined ? ' (runtime default)' : ''}, ${slots} slots × ${contextSize} tokens, ` +
    `${TOKENS} tokens per request, greedy, ${ROUNDS} rounds (median) in ${minutes} min; both variants loaded, measured one at a time, ${SETTLE_MS} ms apart`,
);
printSingle();
printBatch();
printStarts();
printMemory();
printChecks();
console.log(`\nother processes kept cores busy (average): ${load.single.coresText} during item 1, ${load.batch.coresText} during item 2, ${load.starts.coresText} during item 3`);
