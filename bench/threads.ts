/**
 * Decode speed against CPU threads, with raw node-llama-cpp (one context, one sequence, greedy), on
 * the tiny model and on the bench model, for `threads` = 1, 2 and node-llama-cpp's default (no
 * `threads` option), each with the other cores idle and with one core taken by a busy-loop child
 * process. Every cell is the median of interleaved rounds; the busy loop is stopped after each block.
 * This is what the ModelActor's default `threads` is chosen from.
 *
 *   npx tsx bench/threads.ts [--rounds 3] [--tokens 64] [--tiny-tokens 400] [--seconds 6]
 *                            [--binary auto|prebuilt|local]
 *
 * `--tokens` / `--tiny-tokens`: most tokens per measurement on the bench / tiny model; `--seconds`:
 * a measurement also stops after this long (a collapsed configuration can decode at ~1 token/s).
 * `--binary`: which llama.cpp binary to load (default `auto`: what `getLlama({ gpu: false,
 * build: 'never' })` picks, i.e. a local build when there is one, else the prebuilt binary).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import type { LlamaContext, LlamaModel } from 'node-llama-cpp';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import { loadLlama } from './loadLlama.js';
import { ForeignLoad } from './ForeignLoad.js';
import { flag, median } from './args.js';

function textFlag<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

const ROUNDS = flag('rounds', 3);
const TOKENS = flag('tokens', 64);
const TINY_TOKENS = flag('tiny-tokens', 400);
const SECONDS = flag('seconds', 6);
const BINARY = textFlag('binary', ['auto', 'prebuilt', 'local'] as const, 'auto');
const PROMPT = 'Once upon a time';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A busy loop in a child process: takes one core until stopped. */
async function startBusyLoop(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  await pause(300); // let it start and the scheduler see it
  return child;
}

async function stopBusyLoop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

interface Decode {
  tokens: number;
  tokensPerSecond: number;
  /** Threads the context ran with (node-llama-cpp may lower them when contexts compete). */
  threads: number;
}

/** Greedy decode on a fresh history; decode rate = tokens after the first over the time since the first. */
async function decode(context: LlamaContext, model: LlamaModel, maxTokens: number): Promise<Decode> {
  const sequence = context.getSequence();
  try {
    const prompt = model.tokenize(PROMPT);
    let count = 0;
    let first = 0;
    let last = 0;
    let threads = 0;
    for await (const _token of sequence.evaluate(prompt, { temperature: 0 })) {
      const now = performance.now();
      if (count === 0) {
        first = now;
        threads = context.currentThreads;
      }
      last = now;
      count++;
      if (count >= maxTokens || now - first > SECONDS * 1000) break;
    }
    return { tokens: count, tokensPerSecond: count > 1 ? ((count - 1) * 1000) / (last - first) : 0, threads };
  } finally {
    sequence.dispose();
  }
}

type ThreadsSetting = 1 | 2 | 'default';
const SETTINGS: ThreadsSetting[] = [1, 2, 'default'];
const LOADS = ['idle', 'busy'] as const;

const llama = await loadLlama(BINARY);
const models = [
  { name: 'tiny', path: await ensureTinyModel(), tokens: TINY_TOKENS },
  { name: 'bench', path: await ensureBenchModel(), tokens: TOKENS },
];

interface Loaded {
  name: string;
  model: LlamaModel;
  tokens: number;
  contexts: Map<ThreadsSetting, LlamaContext>;
}
const loaded: Loaded[] = [];
for (const { name, path, tokens } of models) {
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  const contexts = new Map<ThreadsSetting, LlamaContext>();
  for (const setting of SETTINGS) {
    const contextSize = Math.min(512, model.trainContextSize);
    contexts.set(
      setting,
      await model.createContext({ contextSize, sequences: 1, ...(setting === 'default' ? {} : { threads: setting }) }),
    );
  }
  loaded.push({ name, model, tokens: Math.min(tokens, Math.min(512, model.trainContextSize) - 16), contexts });
}

const busyLoops = new Set<ChildProcess>();
process.once('SIGINT', () => {
  for (const child of busyLoops) child.kill('SIGKILL');
  process.exit(130);
});

const results = new Map<string, Decode[]>();
const key = (model: string, setting: ThreadsSetting, load: string): string => `${model}|${setting}|${load}`;
const foreign = { idle: new ForeignLoad(), busy: new ForeignLoad() };

// Warm-up: page the weights in and let each context allocate its buffers.
for (const entry of loaded) for (const context of entry.contexts.values()) await decode(context, entry.model, 8);

for (let round = 0; round < ROUNDS; round++) {
  for (const load of LOADS) {
    const busy = load === 'busy' ? await startBusyLoop() : undefined;
    if (busy) busyLoops.add(busy);
    try {
      for (const entry of loaded) {
        for (const setting of SETTINGS) {
          const context = entry.contexts.get(setting) as LlamaContext;
          await pause(20); // lets node-llama-cpp hand the previous context's threads back
          const result = await foreign[load].measure(() => decode(context, entry.model, entry.tokens));
          const cell = key(entry.name, setting, load);
          results.set(cell, [...(results.get(cell) ?? []), result]);
        }
      }
    } finally {
      if (busy) {
        await stopBusyLoop(busy);
        busyLoops.delete(busy);
      }
    }
  }
}

const defaultThreads = loaded[0]?.contexts.get('default')?.idealThreads;
console.log(
  `llama-actors threads benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ` +
    `${availableParallelism()} cores, binary ${llama.buildType} (${BINARY}), llama.maxThreads ${llama.maxThreads}, ` +
    `cpuMathCores ${llama.cpuMathCores}, default context threads ${defaultThreads}; ` +
    `${ROUNDS} rounds (median), up to ${TINY_TOKENS} tokens (tiny) / ${TOKENS} (bench) or ${SECONDS} s per measurement`,
);
const table: Record<string, Record<string, number | string>> = {};
for (const entry of loaded) {
  for (const setting of SETTINGS) {
    const row: Record<string, number | string> = {};
    for (const load of LOADS) {
      const cell = results.get(key(entry.name, setting, load)) ?? [];
      const rate = median(cell.map((r) => r.tokensPerSecond));
      row[`tokens/s, ${load}`] = rate >= 100 ? Math.round(rate) : +rate.toFixed(1);
    }
    const idle = results.get(key(entry.name, setting, 'idle')) ?? [];
    const busy = results.get(key(entry.name, setting, 'busy')) ?? [];
    row['busy/idle'] = +(median(busy.map((r) => r.tokensPerSecond)) / median(idle.map((r) => r.tokensPerSecond))).toFixed(2);
    row['threads used'] = [...new Set([...idle, ...busy].map((r) => r.threads))].join('/');
    row['tokens (min)'] = Math.min(...[...idle, ...busy].map((r) => r.tokens));
    table[`${entry.name}, threads ${setting === 'default' ? `default (${entry.contexts.get(setting)?.idealThreads})` : setting}`] = row;
  }
}
console.table(table);
console.log(
  `other processes kept ${foreign.idle.cores.toFixed(2)} cores busy during the "idle" measurements and ` +
    `${foreign.busy.cores.toFixed(2)} during the "busy" ones (the busy loop is one)`,
);

const best = (load: 'idle' | 'busy') => (entry: Loaded): ThreadsSetting =>
  SETTINGS.reduce((a, b) =>
    median((results.get(key(entry.name, b, load)) ?? []).map((r) => r.tokensPerSecond)) >
    median((results.get(key(entry.name, a, load)) ?? []).map((r) => r.tokensPerSecond))
      ? b
      : a,
  );
for (const entry of loaded) {
  console.log(`${entry.name}: fastest with the other core idle: threads ${best('idle')(entry)}; with it busy: threads ${best('busy')(entry)}`);
}

for (const entry of loaded) {
  for (const context of entry.contexts.values()) await context.dispose();
  await entry.model.dispose();
}
await llama.dispose();
