/**
 * The ModelActor against raw node-llama-cpp on the bench model (a 587 MiB F16 llama, 2048 wide),
 * measured side by side in one run:
 *  1. one stream: `router.streamAsk` through a ModelActor ÷ the same greedy `sequence.evaluate()`
 *     loop on a context made directly with node-llama-cpp (same threads, context size, prompt,
 *     maxTokens, sampling); decode rate = tokens after the first ÷ time from the first to the last
 *     token, taken the same way on both sides (as the consumer receives them). Target ≥ 0.98.
 *  2. 8 requests at once through the runtime (8 slots, batched by node-llama-cpp) ÷ the same 8
 *     requests served one after another by a FIFO queue in front of one sequence (a 1-slot
 *     ModelActor), in aggregate tokens/s; raw node-llama-cpp (8 sequences of one context, and one
 *     sequence serving the 8 in turn) alongside. Target ≥ 1.8 at 2 threads.
 *  3. one-stream decode with node-llama-cpp's prebuilt CPU binary and with a local build
 *     (`npx --no-install node-llama-cpp source download --gpu false`), each in its own child process
 *     (the two binaries' shared libraries have the same names and cannot share a process).
 * Rounds are interleaved (the order alternates each round); medians are reported.
 *
 *   npx tsx bench/model.ts [--rounds 3] [--tokens 64] [--threads 2] [--binary auto|prebuilt|local] [--flash-attention] [--engine node-llama-cpp|native]
 *
 * `--binary` picks the binary of items 1 and 2 (default `auto`: what the runtime itself loads with
 * `getLlama({ build: 'never' })`, a local build when there is one, else the prebuilt binary).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getLlama, type LlamaContextSequence, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { pino } from 'pino';
import { ensureBenchModel } from '../scripts/make-models.js';
import { type Binary, LOCAL_BUILD_HINT, loadLlama } from './loadLlama.js';
import { MessageRouter, ModelActor, type ModelEngine, ModelMessage, type TokenStreamEvent } from '../src/index.js';
import { ForeignLoad } from './ForeignLoad.js';
import { PROMPT, PROMPTS } from './prompts.js';
import { flag, median } from './args.js';

function binaryFlag(name: string, fallback: Binary | undefined): Binary | undefined {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (value === undefined) return fallback;
  if (value !== 'auto' && value !== 'prebuilt' && value !== 'local') throw new Error(`--${name} must be auto, prebuilt or local`);
  return value;
}

const ROUNDS = flag('rounds', 3);
const TOKENS = flag('tokens', 64);
const THREADS = flag('threads', 2);
const SLOTS = 8;
/** Flash attention on both sides; off by default, as the ModelActor's CPU default (see RESULTS.md, sessions). */
const FLASH_ATTENTION = process.argv.includes('--flash-attention');
const CONTEXT_SIZE = 1024;
const BINARY = binaryFlag('binary', 'auto') as Binary;
/**
 * The ModelActor's engine. Defaults to `node-llama-cpp`, the engine the raw side runs, so that the
 * ratio is the runtime's own cost; `--engine native` measures the batched native engine against it.
 */
const ENGINE: ModelEngine = process.argv.includes('--engine') && process.argv[process.argv.indexOf('--engine') + 1] === 'native' ? 'native' : 'node-llama-cpp';
/** Set in the child processes of item 3: which binary this process measures. */
const CHILD = binaryFlag('child', undefined);
/** Greedy, with the runtime's other sampling defaults spelled out so both sides get the same. */
const SAMPLING = { temperature: 0, topK: 40, topP: 0.95, minP: 0.05 } as const;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Token arrival times of one stream, as its consumer saw them. */
class Arrivals {
  readonly tokens: number[] = [];
  private first = 0;
  private last = 0;

  add(token: number): void {
    const now = performance.now();
    if (this.tokens.length === 0) this.first = now;
    this.last = now;
    this.tokens.push(token);
  }

  /** Tokens after the first ÷ time from the first to the last. */
  get tokensPerSecond(): number {
    return this.tokens.length > 1 && this.last > this.first ? ((this.tokens.length - 1) * 1000) / (this.last - this.first) : 0;
  }
}

/** The raw loop: clear the history, evaluate greedily, stop after `maxTokens`. */
async function rawGenerate(sequence: LlamaContextSequence, prompt: Token[], maxTokens: number): Promise<Arrivals> {
  const arrivals = new Arrivals();
  await sequence.clearHistory();
  for await (const token of sequence.evaluate(prompt, SAMPLING)) {
    arrivals.add(token);
    if (arrivals.tokens.length >= maxTokens) break;
  }
  return arrivals;
}

// ---------------------------------------------------------------------------------------------
// Item 3's child process: loads one binary, then decodes one stream per request from the parent.
// ---------------------------------------------------------------------------------------------
interface ChildReady {
  kind: 'ready';
  buildType: string;
}
interface ChildFailed {
  kind: 'failed';
  error: string;
}
interface ChildResult {
  kind: 'result';
  tokensPerSecond: number;
  tokens: number[];
  cpuMs: number;
}
type ChildReply = ChildReady | ChildFailed | ChildResult;

async function child(binary: Binary): Promise<void> {
  const send = (reply: ChildReply): void => {
    process.send?.(reply);
  };
  try {
    const llama = await loadLlama(binary);
    const model = await llama.loadModel({ modelPath: await ensureBenchModel(), gpuLayers: 0 });
    const context = await model.createContext({ contextSize: CONTEXT_SIZE, sequences: 1, threads: THREADS, flashAttention: FLASH_ATTENTION });
    const sequence = context.getSequence();
    const prompt = model.tokenize(PROMPT);
    await rawGenerate(sequence, prompt, 8); // warm-up
    process.on('message', (message: unknown) => {
      if (message === 'exit') {
        void context.dispose().then(() => model.dispose()).then(() => llama.dispose()).then(() => process.exit(0));
        return;
      }
      const before = process.cpuUsage();
      void rawGenerate(sequence, prompt, TOKENS).then((arrivals) => {
        const cpu = process.cpuUsage(before);
        send({ kind: 'result', tokensPerSecond: arrivals.tokensPerSecond, tokens: arrivals.tokens, cpuMs: (cpu.user + cpu.system) / 1000 });
      });
    });
    send({ kind: 'ready', buildType: llama.buildType });
  } catch (error) {
    send({ kind: 'failed', error: (error as Error).message });
    process.exit(0);
  }
}

/** A child process measuring one binary (item 3). */
class BinaryChild {
  private readonly child: ChildProcess;
  private waiting: ((reply: ChildReply) => void) | undefined;
  readonly ready: Promise<ChildReady | ChildFailed>;

  constructor(readonly binary: 'prebuilt' | 'local') {
    this.child = fork(
      fileURLToPath(import.meta.url),
      ['--child', binary, '--tokens', String(TOKENS), '--threads', String(THREADS)],
      { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    this.child.on('message', (reply: ChildReply) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(reply);
    });
    this.ready = this.next() as Promise<ChildReady | ChildFailed>;
  }

  private next(): Promise<ChildReply> {
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  async decode(): Promise<ChildResult> {
    const reply = this.next();
    this.child.send('decode');
    return (await reply) as ChildResult;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send('exit');
    await exited;
  }
}

async function main(): Promise<void> {
  const modelPath = await ensureBenchModel();
  // Whether a local build exists, without loading anything (the binaries cannot share a process).
  const probe = await getLlama({ gpu: false, build: 'never', dryRun: true, logLevel: LlamaLogLevel.error });
  const hasLocalBuild = probe.buildType === 'localBuild';

  const llama = await loadLlama(BINARY);
  const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const actor = new ModelActor({ modelPath, llama, slots: SLOTS, threads: THREADS, contextSize: CONTEXT_SIZE, maxQueue: 16, flashAttention: FLASH_ATTENTION, engine: ENGINE });
  const actorAddress = router.registerActor('model', actor, actor.actorOptions);
  const fifo = new ModelActor({ modelPath, llama, slots: 1, threads: THREADS, contextSize: CONTEXT_SIZE, maxQueue: 16, flashAttention: FLASH_ATTENTION, engine: ENGINE });
  const fifoAddress = router.registerActor('fifo', fifo, fifo.actorOptions);
  const info = await actor.load();
  await fifo.load();

  const raw1 = await model.createContext({ contextSize: CONTEXT_SIZE, sequences: 1, threads: THREADS, flashAttention: FLASH_ATTENTION });
  const raw8 = await model.createContext({ contextSize: CONTEXT_SIZE, sequences: SLOTS, threads: THREADS, flashAttention: FLASH_ATTENTION });
  const raw1Sequence = raw1.getSequence();
  const raw8Sequences = Array.from({ length: SLOTS }, () => raw8.getSequence());
  const prompt = model.tokenize(PROMPT);
  const prompts = PROMPTS.map((text) => model.tokenize(text));

  /** One runtime stream; its tokens timed in the consumer's callback. */
  const runtimeGenerate = async (to: typeof actorAddress, text: string): Promise<Arrivals> => {
    const arrivals = new Arrivals();
    const result = await router.streamAsk(
      to,
      ModelMessage.Generate,
      { prompt: text, params: { maxTokens: TOKENS, ...SAMPLING } },
      {
        onChunk: (event: TokenStreamEvent) => {
          if (event.type === 'token' && event.tokenId !== undefined) arrivals.add(event.tokenId);
        },
      },
    );
    if (result.error) throw result.error;
    return arrivals;
  };

  /** Aggregate tokens/s of a batch of requests: all tokens ÷ wall time from submission to the last token. */
  const aggregate = async (run: () => Promise<Arrivals[]>): Promise<{ rate: number; outputs: number[][] }> => {
    const start = performance.now();
    const all = await run();
    const wall = performance.now() - start;
    const tokens = all.reduce((sum, a) => sum + a.tokens.length, 0);
    return { rate: (tokens * 1000) / wall, outputs: all.map((a) => a.tokens) };
  };

  const single: Record<string, () => Promise<Arrivals>> = {
    'raw node-llama-cpp, 1-sequence context': () => rawGenerate(raw1Sequence, prompt, TOKENS),
    'runtime streamAsk (8-slot actor)': () => runtimeGenerate(actorAddress, PROMPT),
    'raw node-llama-cpp, 8-sequence context': () => rawGenerate(raw8Sequences[0] as LlamaContextSequence, prompt, TOKENS),
  };
  const batch: Record<string, () => Promise<{ rate: number; outputs: number[][] }>> = {
    'raw: one sequence, 8 in turn': () =>
      aggregate(async () => {
        const out: Arrivals[] = [];
        for (const p of prompts) out.push(await rawGenerate(raw1Sequence, p, TOKENS));
        return out;
      }),
    'runtime: 1 slot, 8 queued (FIFO)': () => aggregate(() => Promise.all(PROMPTS.map((p) => runtimeGenerate(fifoAddress, p)))),
    'raw: 8 sequences at once': () =>
      aggregate(() => Promise.all(prompts.map((p, i) => rawGenerate(raw8Sequences[i] as LlamaContextSequence, p, TOKENS)))),
    'runtime: 8 slots, 8 at once': () => aggregate(() => Promise.all(PROMPTS.map((p) => runtimeGenerate(actorAddress, p)))),
  };

  const children = hasLocalBuild ? [new BinaryChild('prebuilt'), new BinaryChild('local')] : [new BinaryChild('prebuilt')];
  const childReady = await Promise.all(children.map((c) => c.ready));
  for (const ready of childReady) if (ready.kind === 'failed') throw new Error(`item 3 child failed: ${ready.error}`);

  const singleRates = new Map<string, number[]>();
  const singleTokens = new Map<string, number[]>();
  const batchRates = new Map<string, number[]>();
  const batchOutputs = new Map<string, number[][]>();
  const binaryRates = new Map<string, number[]>();
  const binaryTokens = new Map<string, number[]>();
  const foreign = { single: new ForeignLoad(), batch: new ForeignLoad(), binary: new ForeignLoad() };
  const ordered = <T>(entries: T[], round: number): T[] => (round % 2 === 0 ? entries : [...entries].reverse());

  // Warm-up: page the weights in, allocate every context's buffers, JIT the JavaScript paths.
  for (const run of Object.values(single)) await run();
  await batch['runtime: 8 slots, 8 at once']?.();
  await batch['raw: 8 sequences at once']?.();

  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of ordered(Object.entries(single), round)) {
      await pause(50); // lets node-llama-cpp hand the previous context's threads back
      const arrivals = await foreign.single.measure(run);
      singleRates.set(name, [...(singleRates.get(name) ?? []), arrivals.tokensPerSecond]);
      singleTokens.set(name, arrivals.tokens);
    }
    for (const [name, run] of ordered(Object.entries(batch), round)) {
      await pause(50);
      const { rate, outputs } = await foreign.batch.measure(run);
      batchRates.set(name, [...(batchRates.get(name) ?? []), rate]);
      batchOutputs.set(name, outputs);
    }
    for (const child of ordered(children, round)) {
      await pause(200); // and lets the other process's threads go to sleep
      const result = await foreign.binary.measure(() => child.decode(), (r) => r.cpuMs);
      binaryRates.set(child.binary, [...(binaryRates.get(child.binary) ?? []), result.tokensPerSecond]);
      binaryTokens.set(child.binary, result.tokens);
    }
  }
  for (const child of children) await child.close();

  const s = (name: string): number => median(singleRates.get(name) ?? []);
  const b = (name: string): number => median(batchRates.get(name) ?? []);
  const fmt = (rate: number): number => +rate.toFixed(1);
  /** Median over rounds of the ratio within each round (robust to load that changes between rounds). */
  const perRound = (rates: Map<string, number[]>, a: string, c: string): string => {
    const num = rates.get(a) ?? [];
    const den = rates.get(c) ?? [];
    return median(num.map((value, i) => value / (den[i] ?? Number.NaN))).toFixed(2);
  };
  const same = (a: number[] | undefined, c: number[] | undefined): string => (JSON.stringify(a) === JSON.stringify(c) ? 'yes' : 'NO');

  console.log(
    `llama-actors model benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; ` +
      `bench model ${(info.sizeBytes / 2 ** 20).toFixed(0)} MiB (${info.architecture}, ${info.embeddingSize} wide, ${info.vocabularySize} vocab), ` +
      `binary ${llama.buildType} (--binary ${BINARY}), threads ${THREADS}, flash attention ${FLASH_ATTENTION ? "on" : "off"}, context ${CONTEXT_SIZE} per sequence, ` +
      `${TOKENS} tokens per request, greedy, ${ROUNDS} rounds (median)`,
  );

  const rawSingle = s('raw node-llama-cpp, 1-sequence context');
  const runtimeSingle = s('runtime streamAsk (8-slot actor)');
  const raw8Single = s('raw node-llama-cpp, 8-sequence context');
  console.log('\n1. One stream, decode tokens/s');
  console.table(
    Object.fromEntries(
      Object.keys(single).map((name) => [
        name,
        {
          'tokens/s': fmt(s(name)),
          'min..max': `${fmt(Math.min(...(singleRates.get(name) ?? [])))}..${fmt(Math.max(...(singleRates.get(name) ?? [])))}`,
          '÷ raw 1-seq': +(s(name) / rawSingle).toFixed(3),
          'same tokens as raw': same(singleTokens.get(name), singleTokens.get('raw node-llama-cpp, 1-sequence context')),
        },
      ]),
    ),
  );
  const ratio1 = runtimeSingle / rawSingle;
  console.log(
    `runtime ÷ raw, one stream: ${ratio1.toFixed(3)} (target ≥ 0.98): ${ratio1 >= 0.98 ? 'met' : 'NOT met'}; ` +
      `runtime ÷ raw on an 8-sequence context like the actor's: ${(runtimeSingle / raw8Single).toFixed(3)}; ` +
      `median of per-round ratios: ${perRound(singleRates, 'runtime streamAsk (8-slot actor)', 'raw node-llama-cpp, 1-sequence context')}`,
  );

  const fifoRate = b('runtime: 1 slot, 8 queued (FIFO)');
  const runtime8 = b('runtime: 8 slots, 8 at once');
  const rawSeq = b('raw: one sequence, 8 in turn');
  const raw8Rate = b('raw: 8 sequences at once');
  console.log(`\n2. ${SLOTS} requests (${SLOTS} prompts × ${TOKENS} tokens), aggregate tokens/s (all tokens ÷ wall time)`);
  console.table(
    Object.fromEntries(
      Object.keys(batch).map((name) => [
        name,
        {
          'tokens/s': fmt(b(name)),
          '÷ runtime FIFO': +(b(name) / fifoRate).toFixed(2),
          '÷ raw one-at-a-time': +(b(name) / rawSeq).toFixed(2),
          'same tokens as raw 1-seq': same(batchOutputs.get(name)?.flat(), batchOutputs.get('raw: one sequence, 8 in turn')?.flat()),
        },
      ]),
    ),
  );
  const ratio2 = runtime8 / fifoRate;
  console.log(
    `runtime 8 at once ÷ FIFO in front of one sequence: ${ratio2.toFixed(2)} (target ≥ 1.8): ${ratio2 >= 1.8 ? 'met' : 'NOT met'}; ` +
      `÷ raw one-at-a-time: ${(runtime8 / rawSeq).toFixed(2)}; raw 8 at once ÷ raw one-at-a-time: ${(raw8Rate / rawSeq).toFixed(2)}; ` +
      `runtime ÷ raw, 8 at once: ${(runtime8 / raw8Rate).toFixed(2)}; median of per-round ratios: ` +
      `${perRound(batchRates, 'runtime: 8 slots, 8 at once', 'runtime: 1 slot, 8 queued (FIFO)')} (÷ FIFO), ` +
      `${perRound(batchRates, 'runtime: 8 slots, 8 at once', 'raw: one sequence, 8 in turn')} (÷ raw one-at-a-time)`,
  );

  console.log(`\n3. One stream, decode tokens/s by llama.cpp binary (each in its own process, ${THREADS} threads)`);
  const prebuilt = median(binaryRates.get('prebuilt') ?? []);
  const local = median(binaryRates.get('local') ?? []);
  console.table({
    'prebuilt (npm @node-llama-cpp/linux-x64)': { 'tokens/s': fmt(prebuilt), '÷ prebuilt': 1 },
    ...(hasLocalBuild
      ? {
          'local build (source download/build)': {
            'tokens/s': fmt(local),
            '÷ prebuilt': +(local / prebuilt).toFixed(2),
            'per-round ÷': +perRound(binaryRates, 'local', 'prebuilt'),
            'same tokens': same(binaryTokens.get('local'), binaryTokens.get('prebuilt')),
          },
        }
      : {}),
  });
  if (!hasLocalBuild) console.log(LOCAL_BUILD_HINT);

  console.log(
    `\nother processes kept cores busy (average): ${foreign.single.coresText} during item 1, ${foreign.batch.coresText} during item 2, ` +
      `${foreign.binary.coresText} during item 3`,
  );

  await raw1.dispose();
  await raw8.dispose();
  await model.dispose();
  await router.dispose();
  await llama.dispose();
}

if (CHILD) await child(CHILD);
else await main();
