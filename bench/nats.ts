/**
 * What a NATS cluster costs and what it buys, in one run on one machine, every part a real process:
 * nats-server, `llama-actors worker` processes (each model in its model host) and a front end in
 * this process (a WorkerDirectory and a ClusterModelActor per model, as `serve --nats` builds them),
 * beside the same model in this process (`new LocalLlamaProvider()`):
 *
 *  1. one stream through NATS ÷ in process: decode tokens/s at the consumer (target ≥ 0.95), the
 *     latency NATS adds per chunk (mean gap difference), TTFT, and the CPU each process a token
 *     crosses spends on it; `--single-rounds` pairs (20), more than the other items' `--rounds`,
 *     because one ~1 s stream on a shared machine varies by ±10 % from run to run;
 *  2. 8 streams at once: two workers with one thread each ÷ one worker with two threads (the same
 *     model, 4 + 4 slots vs 8), aggregate tokens/s; and the one worker ÷ in process;
 *  3. time to first token of a continuing session (its whole history sent each turn, the replica's
 *     KV cache holding the prefix or not) with session-aware routing ÷ with random routing, over the
 *     two workers.
 *
 * Measured one variant at a time (never two at once), the order rotating each round; every stream
 * must give the in-process greedy text. The workers serve hard links of one GGUF under three names,
 * so that each setup is its own model id with its own replicas.
 *
 *   npx tsx bench/nats.ts [--rounds 3] [--single-rounds 20] [--tokens 64] [--model bench|tiny|PATH] [--turns 4] [--sessions 4] [--threads N]
 */
import { copyFile, link, mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import { ClusterModelActor, type ClusterModelActorOptions } from '../src/entities/cluster/ClusterModelActor.js';
import { WorkerDirectory } from '../src/entities/cluster/WorkerDirectory.js';
import { type Address, address, LocalLlamaProvider, MessageRouter, ModelMessage, type ModelInfo } from '../src/index.js';
import { CliProcess } from '../test/model/helpers/cliProcess.js';
import { NatsServer } from '../test/standalone/helpers/natsServer.js';
import { median, ordered } from './args.js';
import { ForeignLoad, processCpuMs } from './ForeignLoad.js';
import { PROMPT, PROMPTS } from './prompts.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'single-rounds': { type: 'string', default: '20' },
    tokens: { type: 'string', default: '64' },
    model: { type: 'string', default: 'bench' },
    turns: { type: 'string', default: '4' },
    sessions: { type: 'string', default: '4' },
    /** Threads of the one-worker and in-process models (default: every core). */
    threads: { type: 'string' },
  },
});
const positive = (name: string, raw: string | undefined): number => {
  const value = Number(raw);
  if (!(Number.isInteger(value) && value >= 1)) throw new Error(`--${name} must be a positive integer, got '${raw}'`);
  return value;
};
const ROUNDS = positive('rounds', values.rounds);
const SINGLE_ROUNDS = positive('single-rounds', values['single-rounds']);
const TOKENS = positive('tokens', values.tokens);
const TURNS = positive('turns', values.turns);
const SESSIONS = positive('sessions', values.sessions);
const CONCURRENCY = 8;
/** The one-worker and in-process models' threads: every core unless `--threads` (1 leaves a core to the processes a token crosses). */
const CORES = values.threads === undefined ? cpus().length : positive('threads', values.threads);
const CONTEXT = values.model === 'tiny' ? 512 : 2048;
const SETTLE_MS = 750;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
const silent = pino({ level: 'silent' });
const promptAt = (i: number): string => `${PROMPTS[i % PROMPTS.length]}${i >= PROMPTS.length ? ` (${i})` : ''}`;

const modelPath = values.model === 'bench' ? await ensureBenchModel() : values.model === 'tiny' ? await ensureTinyModel() : (values.model as string);
const dir = await mkdtemp(join(tmpdir(), 'llama-actors-nats-bench-'));
/** The model under another name (a hard link, a copy across file systems): its own model id. */
async function named(name: string): Promise<string> {
  const path = join(dir, `${name}.gguf`);
  await link(modelPath, path).catch(() => copyFile(modelPath, path));
  return path;
}

const nats = await NatsServer.start();
const workers: CliProcess[] = [];
/** A worker process serving `path` with `threads` threads and `slots` slots; resolves once it serves. */
async function worker(name: string, path: string, threads: number, slots: number): Promise<CliProcess> {
  const args = ['worker', '--nats', nats.url, '--model', path, '--name', name, '--threads', String(threads), '--slots', String(slots), '--context-size', String(CONTEXT)];
  const child = new CliProcess(args);
  workers.push(child);
  await child.until(/serving \S+ on /, 180_000);
  return child;
}

const [onePath, twoPath] = [await named('one'), await named('two')];
await Promise.all([worker('one-a', onePath, CORES, CONCURRENCY), worker('two-a', twoPath, 1, CONCURRENCY / 2), worker('two-b', twoPath, 1, CONCURRENCY / 2)]);

const nc = await connect({ servers: nats.url });
const directory = new WorkerDirectory(nc, { pollMs: 500, logger: silent });
directory.start();
const router = new MessageRouter({ logger: silent });
function cluster(localId: string, model: string, options: ClusterModelActorOptions = {}): Address {
  const actor = new ClusterModelActor(model, directory, options);
  return router.registerActor(localId, actor, actor.actorOptions);
}
const inProcess = (() => {
  const { actor, options } = new LocalLlamaProvider().createModelActor({
    id: 'in-process',
    provider: address('local'),
    path: modelPath,
    load: { slots: CONCURRENCY, threads: CORES, contextSize: CONTEXT },
  });
  return router.registerActor('in-process', actor, options);
})();
const models = {
  one: cluster('via-nats/one', 'one'),
  twoAware: cluster('via-nats/two', 'two'),
  twoRandom: cluster('via-nats/two-random', 'two', { routing: 'random' }),
};
const until = Date.now() + 60_000;
while (directory.replicasOf('one').length < 1 || directory.replicasOf('two').length < 2) {
  if (Date.now() > until) throw new Error(`the front end did not find the workers: ${directory.workers.map((w) => w.worker).join(', ')}`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const info = (model: Address) => router.ask<ModelInfo>(model, ModelMessage.Info, null, { timeout: 600_000 });
const infos = { inProcess: await info(inProcess), one: await info(models.one) };

/** Every pid under `root` (its children, their children, ...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) if (parent === pid) (found.push(child), walk(child));
  };
  walk(root);
  return found;
}
/** The cluster's processes, counted as this benchmark's own CPU by ForeignLoad. */
const clusterPids = (): number[] => [...workers.flatMap((w) => [w.pid, ...descendants(w.pid)]), ...descendants(process.pid)];

/** The processes one stream crosses, by role: for the CPU each spends per token (10 ms ticks of /proc, summed over the runs). */
const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const oneWorker = workers[0] as CliProcess;
const roles: Record<string, Record<string, number | 'self'>> = {
  nats: {
    'model host (worker one-a)': descendants(oneWorker.pid).find((pid) => comm(pid) === 'node') ?? -1,
    'worker one-a': oneWorker.pid,
    'nats-server': descendants(process.pid).find((pid) => comm(pid) === 'nats-server') ?? -1,
    'front end (this process)': 'self',
  },
  'in-process': { 'this process (model and consumer)': 'self' },
};
const cpuTotals = new Map<string, { ms: number; tokens: number }>();
const processCpu = (key: string): Record<string, number> =>
  Object.fromEntries(Object.entries(roles[key] ?? {}).map(([role, pid]) => [role, processCpuMs(pid, false)]));
function tallyCpu(key: string, before: Record<string, number>, tokens: number): void {
  for (const [role, ms] of Object.entries(processCpu(key))) {
    const total = cpuTotals.get(`${key}: ${role}`) ?? { ms: 0, tokens: 0 };
    total.ms += ms - (before[role] ?? 0);
    total.tokens += tokens;
    cpuTotals.set(`${key}: ${role}`, total);
  }
}

type Run = { chunks: string[]; times: number[]; started: number };
const tokensPerSecond = (run: Run): number => ((run.times.length - 1) * 1000) / ((run.times.at(-1) as number) - (run.times[0] as number));
const meanGapUs = (run: Run): number => (((run.times.at(-1) as number) - (run.times[0] as number)) * 1000) / (run.times.length - 1);

async function generate(model: Address, messages: Array<{ role: string; content: string }>, maxTokens: number, session?: string): Promise<Run> {
  const run: Run = { chunks: [], times: [], started: performance.now() };
  const payload = { messages, params: { maxTokens, temperature: 0 }, ...(session ? { session } : {}) };
  const result = await router.streamAsk(model, ModelMessage.Generate, payload, {
    timeout: 600_000,
    onChunk: (event) => {
      if (event.type !== 'token' || !event.content) return;
      run.times.push(performance.now());
      run.chunks.push(event.content);
    },
  });
  if (result.error) throw result.error;
  return run;
}
const one = (model: Address, prompt = PROMPT) => generate(model, [{ role: 'user', content: prompt }], TOKENS);
const eight = (model: Address) => Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => one(model, promptAt(i))));

const samples = new Map<string, number[]>();
const push = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
const all = (key: string): number[] => samples.get(key) ?? [];
const med = (key: string): number => median(all(key));
const problems: string[] = [];
function check(where: string, runs: Run[], reference: Run[]): void {
  runs.forEach((run, i) => {
    const want = reference[i] as Run;
    if (run.chunks.join('') !== want.chunks.join('')) problems.push(`${where}, stream ${i + 1}: text differs from in process`);
  });
}
const load = { single: new ForeignLoad(), batch: new ForeignLoad(), sessions: new ForeignLoad() };
async function measured<T>(key: string, foreign: ForeignLoad, work: () => Promise<T>): Promise<T> {
  await settle();
  const alone = new ForeignLoad();
  const pids = clusterPids();
  const result = await foreign.measure(() => alone.measure(work, pids), pids);
  push(`${key} foreign`, alone.cores);
  return result;
}

/** A conversation's next user message: long enough that its history is worth caching. */
const userTurn = (session: number, turn: number): string =>
  `Session ${session}, message ${turn}: ${'Tell me more about the actors, the messages they send and the mailboxes that hold them. '.repeat(values.model === 'tiny' ? 1 : 4)}`;

/** SESSIONS conversations of TURNS turns each, interleaved; TTFT of every turn after the first. */
async function conversations(model: Address, label: string, round: number): Promise<number[]> {
  const histories = Array.from({ length: SESSIONS }, () => [] as Array<{ role: string; content: string }>);
  const ttfts: number[] = [];
  for (let turn = 0; turn < TURNS; turn++) {
    for (let s = 0; s < SESSIONS; s++) {
      const history = histories[s] as Array<{ role: string; content: string }>;
      history.push({ role: 'user', content: userTurn(s, turn) });
      const run = await generate(model, history, 16, `${label}-${round}-${s}`);
      if (turn > 0) ttfts.push((run.times[0] as number) - run.started);
      history.push({ role: 'assistant', content: run.chunks.join('') });
    }
  }
  return ttfts;
}

const began = performance.now();
const reference = { single: await one(inProcess), batch: await eight(inProcess) };
check('via NATS, warm-up', [await one(models.one)], [reference.single]);
check('two workers, warm-up', await eight(models.twoAware), reference.batch);
await eight(models.one);
for (let round = 0; round < SINGLE_ROUNDS; round++) {
  for (const [key, model] of ordered<[string, Address]>([['nats', models.one], ['in-process', inProcess]], round)) {
    const run = await measured(`single ${key}`, load.single, async () => {
      // Counted from after the settling pause: the other variant's llama.cpp threads poll for a while after its run.
      const before = processCpu(key);
      const measuredRun = await one(model);
      tallyCpu(key, before, measuredRun.chunks.length);
      return measuredRun;
    });
    check(`${key}, one stream, round ${round + 1}`, [run], [reference.single]);
    push(`single ${key} tokens/s`, tokensPerSecond(run));
    push(`single ${key} gap`, meanGapUs(run));
    push(`single ${key} ttft`, (run.times[0] as number) - run.started);
  }
}
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, model] of ordered<[string, Address]>([['one worker', models.one], ['two workers', models.twoAware], ['in-process', inProcess]], round)) {
    const started = performance.now();
    const runs = await measured(`batch ${key}`, load.batch, () => eight(model));
    const tokens = runs.reduce((sum, run) => sum + run.chunks.length, 0);
    push(`batch ${key} tokens/s`, (tokens * 1000) / (performance.now() - started));
    check(`${key}, ${CONCURRENCY} streams, round ${round + 1}`, runs, reference.batch);
  }
  for (const [key, model] of ordered<[string, Address]>([['session-aware', models.twoAware], ['random', models.twoRandom]], round)) {
    const ttfts = await measured(`sessions ${key}`, load.sessions, () => conversations(model, key, round));
    push(`sessions ${key} ttft`, median(ttfts));
  }
}
const minutes = ((performance.now() - began) / 60_000).toFixed(1);

await router.dispose();
await directory.dispose();
await nc.close();
await Promise.all(workers.map((w) => w.stop()));
await nats.stop();
await rm(dir, { recursive: true, force: true });

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? +value.toFixed(digits) : '');
const range = (values: number[], digits = 1) => `${Math.min(...values).toFixed(digits)}..${Math.max(...values).toFixed(digits)}`;
const foreign = (prefix: string) => fixed(median(Object.keys(Object.fromEntries(samples)).filter((k) => k.startsWith(prefix) && k.endsWith('foreign')).flatMap(all)), 2);
const perRound = (a: string, b: string): number => median(all(a).map((value, i) => value / (all(b)[i] as number)));

const { engine, threads, slots, localBuild } = infos.inProcess;
console.log(
  `llama-actors NATS cluster benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ${values.model} model, ${engine} engine, binary ${localBuild ? 'local build' : 'prebuilt'}, ` +
    `${TOKENS} tokens per request, greedy, ${SINGLE_ROUNDS} rounds of item 1 and ${ROUNDS} of the others (median) in ${minutes} min; one variant at a time, ${SETTLE_MS} ms apart; nats-server ${nats.url}`,
);
console.log(`\n1. One stream (in process: ${threads} threads, ${slots} slots; the worker the same, its model in its host): decode tokens/s at the consumer`);
console.table(
  Object.fromEntries(
    ['nats', 'in-process'].map((key) => [
      key === 'nats' ? 'through NATS (worker → host)' : 'in process',
      {
        'tokens/s': fixed(med(`single ${key} tokens/s`), 1),
        'min..max': range(all(`single ${key} tokens/s`)),
        'mean gap (µs)': fixed(med(`single ${key} gap`), 0),
        'TTFT (ms)': fixed(med(`single ${key} ttft`), 2),
      },
    ]),
  ),
);
const singleRatio = perRound('single nats tokens/s', 'single in-process tokens/s');
console.log(
  `through NATS ÷ in process, one stream: ${(med('single nats tokens/s') / med('single in-process tokens/s')).toFixed(3)} of the medians, per-round ${singleRatio.toFixed(3)} ` +
    `(target ≥ 0.95 ${singleRatio >= 0.95 ? 'met' : 'NOT met'}); added per chunk ${(med('single nats gap') - med('single in-process gap')).toFixed(1)} µs (mean gap), ` +
    `TTFT +${(med('single nats ttft') - med('single in-process ttft')).toFixed(2)} ms; other processes ${foreign('single')} cores`,
);
console.log(`CPU per token of each process a stream crosses (summed over the ${SINGLE_ROUNDS} runs of each variant; a model's process counts its llama.cpp threads):`);
console.table(Object.fromEntries([...cpuTotals].map(([role, { ms, tokens }]) => [role, { 'CPU ms/token': fixed(ms / tokens, 3) }])));
console.log(`\n2. ${CONCURRENCY} streams at once (${CONCURRENCY} prompts × ${TOKENS} tokens): aggregate tokens/s`);
console.table(
  Object.fromEntries(
    [
      ['two workers', `two workers × 1 thread × ${CONCURRENCY / 2} slots`],
      ['one worker', `one worker × ${CORES} threads × ${CONCURRENCY} slots`],
      ['in-process', `in process × ${CORES} threads × ${CONCURRENCY} slots`],
    ].map(([key, label]) => [label, { 'tokens/s': fixed(med(`batch ${key} tokens/s`), 1), 'min..max': range(all(`batch ${key} tokens/s`)) }]),
  ),
);
console.log(
  `two workers (1 thread each) ÷ one worker (${CORES} threads): ${perRound('batch two workers tokens/s', 'batch one worker tokens/s').toFixed(3)} per round; ` +
    `one worker ÷ in process: ${perRound('batch one worker tokens/s', 'batch in-process tokens/s').toFixed(3)}; other processes ${foreign('batch')} cores`,
);
console.log(`\n3. Continuing sessions over two workers (${SESSIONS} sessions × ${TURNS} turns, interleaved, 16 tokens a turn, the whole history sent): median TTFT of turns 2..${TURNS}, ms`);
console.table(
  Object.fromEntries(['session-aware', 'random'].map((key) => [key, { 'TTFT (ms)': fixed(med(`sessions ${key} ttft`), 1), 'min..max': range(all(`sessions ${key} ttft`)) }])),
);
console.log(`session-aware ÷ random, TTFT: ${perRound('sessions session-aware ttft', 'sessions random ttft').toFixed(3)} per round; other processes ${foreign('sessions')} cores`);
if (problems.length > 0) {
  console.error(`\nFAILED: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} else console.log(`\nevery stream gave the in-process greedy text`);
