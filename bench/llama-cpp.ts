/**
 * The project against the engine limit: llama.cpp's own tools, built from the llama.cpp source
 * node-llama-cpp bundles (`bench/llamaCppTools.ts`, cached outside the clone), on the same GGUF and
 * threads, greedy, in interleaved rounds (the order flips every round; medians are reported, with
 * the other processes' CPU use during the measurements):
 *
 *  1. one stream's decode rate at 1 and 2 threads: `llama-bench -p 0 -n N` ÷ a ModelActor stream
 *     (tokens after the first ÷ time from the first to the last, as its consumer sees them);
 *  2. prefill of ~1,000 tokens at 1 and 2 threads: `llama-bench -p 1000 -n 0` ÷ the ModelActor's
 *     prompt tokens ÷ time to first token;
 *  3. 8 concurrent streams over HTTP, aggregate tokens/s: `llama-server -np 8` ÷ `llama-actors serve
 *     --slots 8` (both driven by the openai client, the same 8 prompts, `max_tokens` N);
 *  4. the same 8 requests one after another, and concurrent ÷ one after another for each server.
 *
 *   npx tsx bench/llama-cpp.ts [--rounds 3] [--tokens 64] [--threads 2] [--model bench|PATH] [--engines native,node-llama-cpp]
 *
 * Every llama-actors row is measured for each engine given (`native`, the default on CPU, and
 * `node-llama-cpp`), and the one-stream decode also with the default thread count. In process, one
 * engine is loaded at a time (an idle engine's threads would otherwise compete with the measured
 * one's: with both loaded, one Q4_K_M stream measured 0.56 of llama-bench instead of 0.96).
 *
 * `--model bench` is the generated F16 bench model; give a quantized file (e.g. one made with the
 * build's `llama-quantize`: `npx tsx bench/llama-cpp.ts --quantize Q4_K_M`) for the quantized rows.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { pino } from 'pino';
import { ensureBenchModel } from '../scripts/make-models.js';
import { defaultThreads, MessageRouter, ModelActor, type ModelEngine, ModelMessage, type TokenStreamEvent } from '../src/index.js';
import { flag, median } from './args.js';
import { ForeignLoad } from './ForeignLoad.js';
import { ensureLlamaCppTools, type LlamaCppTools } from './llamaCppTools.js';
import { loadLlama } from './loadLlama.js';
import { PROMPT, PROMPTS } from './prompts.js';

const ROUNDS = flag('rounds', 3);
const TOKENS = flag('tokens', 64);
const MAX_THREADS = flag('threads', 2);
const CONTEXT = 1024;
const SLOTS = 8;
const ENGINES = (process.argv.includes('--engines') ? (process.argv[process.argv.indexOf('--engines') + 1] ?? '') : 'native,node-llama-cpp')
  .split(',')
  .filter(Boolean) as ModelEngine[];
const run = promisify(execFile);
const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
};
/** About 1,000 tokens of plain text for the prefill rows. */
const LONG_PROMPT = Array.from({ length: 90 }, (_, i) => `${PROMPTS[i % PROMPTS.length]} and then`).join(' ');

async function modelPath(tools: LlamaCppTools): Promise<string> {
  const given = argument('model');
  const base = given === undefined || given === 'bench' ? await ensureBenchModel() : given;
  const quantize = argument('quantize');
  if (!quantize) return base;
  const out = base.replace(/\.gguf$/, `-${quantize.toLowerCase()}.gguf`);
  if (!existsSync(out)) await run(tools.quantize, [base, out, quantize], { maxBuffer: 1 << 26 });
  return out;
}

/** `llama-bench`'s tokens/s for one test (`-p P -n N`). */
async function llamaBench(tools: LlamaCppTools, model: string, threads: number, prompt: number, generate: number): Promise<number> {
  const { stdout } = await run(tools.bench, ['-m', model, '-t', String(threads), '-p', String(prompt), '-n', String(generate), '-r', '1', '-fa', '0', '-o', 'json']);
  const rows = JSON.parse(stdout) as Array<{ avg_ts: number }>;
  return rows[0]?.avg_ts ?? Number.NaN;
}

/** A ModelActor on its own router: the in-process side of items 1 and 2. */
async function modelActor(model: string, threads: number | undefined, engine: ModelEngine) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
  const llama = await loadLlama('auto');
  const actor = new ModelActor({ modelPath: model, llama, slots: 1, ...(threads === undefined ? {} : { threads }), engine, contextSize: CONTEXT * 2, flashAttention: false });
  router.registerActor('model', actor, actor.actorOptions);
  const info = await router.ask<{ threads: number }>('model', ModelMessage.Info, null, { timeout: Infinity });
  const generate = async (prompt: string, maxTokens: number) => {
    const times: number[] = [];
    let usage: { promptTokens?: number; timeToFirstTokenMs?: number } = {};
    await router.streamAsk('model', ModelMessage.Generate, { prompt, params: { maxTokens, temperature: 0 }, session: `s${Math.random()}` }, {
      timeout: Infinity,
      onChunk: (event: TokenStreamEvent) => {
        if (event.type === 'token') times.push(performance.now());
        if (event.type === 'done') usage = (event.usage ?? {}) as typeof usage;
      },
    });
    const decode = times.length > 1 ? ((times.length - 1) * 1000) / ((times.at(-1) as number) - (times[0] as number)) : Number.NaN;
    const prefill = ((usage.promptTokens ?? 0) * 1000) / (usage.timeToFirstTokenMs ?? Number.NaN);
    return { decode, prefill };
  };
  return { generate, threads: info.threads, close: async () => { await router.dispose(); await llama.dispose(); } };
}

/** A server child process, resolved with its base URL once it answers. */
async function startServer(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const errors = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      const match = ready.exec(line);
      if (match) resolve({ url: match[1] as string, child });
    };
    lines.on('line', onLine);
    errors.on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
  });
}

/** Aggregate completion tokens/s of the 8 prompts, all at once or one after another. */
async function serve(url: string, model: string, concurrent: boolean): Promise<number> {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const one = async (prompt: string) => {
    const completion = await client.completions.create({ model, prompt, max_tokens: TOKENS, temperature: 0 });
    return completion.usage?.completion_tokens ?? 0;
  };
  const start = performance.now();
  let tokens = 0;
  if (concurrent) tokens = (await Promise.all(PROMPTS.slice(0, SLOTS).map(one))).reduce((a, b) => a + b, 0);
  else for (const prompt of PROMPTS.slice(0, SLOTS)) tokens += await one(prompt);
  return (tokens * 1000) / (performance.now() - start);
}

/** One side of a comparison: a name and what it measures. */
type Side<T> = { name: string; measure: () => Promise<T> };

/** Runs every side once per round, rotating who goes first; returns the results by side name. */
async function rotated<T>(round: number, sides: Side<T>[]): Promise<Map<string, T>> {
  const results = new Map<string, T>();
  for (let i = 0; i < sides.length; i++) {
    const side = sides[(i + round) % sides.length] as Side<T>;
    results.set(side.name, await side.measure());
  }
  return results;
}

async function main(): Promise<void> {
  const tools = await ensureLlamaCppTools();
  const model = await modelPath(tools);
  const load = new ForeignLoad();
  const rows = new Map<string, Map<string, number[]>>();
  const record = (row: string, side: string, value: number) => {
    const sides = rows.get(row) ?? new Map<string, number[]>();
    sides.set(side, [...(sides.get(side) ?? []), value]);
    rows.set(row, sides);
  };
  const plural = (threads: number) => `${threads} thread${threads > 1 ? 's' : ''}`;

  // In-process rows: one engine loaded at a time (created, warmed up, measured, closed), so one
  // engine's idle threads (an OpenMP team spins after its decodes) never run beside another's.
  const defaultThreadsOf = new Map<string, number>();
  for (const threads of [...Array.from({ length: MAX_THREADS }, (_, i) => i + 1), undefined]) {
    type One = { decode: number; prefill: number };
    // llama-bench at the first engine's default thread count.
    const benchThreads = threads ?? defaultThreads(availableParallelism(), ENGINES[0] ?? 'native');
    for (let round = 0; round < ROUNDS; round++) {
      const sides: Side<One>[] = ENGINES.map((engine) => ({
        name: engine,
        measure: async () => {
          const actor = await modelActor(model, threads, engine);
          if (threads === undefined) defaultThreadsOf.set(engine, actor.threads);
          try {
            await actor.generate(PROMPT, 4); // warm-up
            return await load.measure(async () => ({ decode: (await actor.generate(PROMPT, TOKENS)).decode, prefill: (await actor.generate(LONG_PROMPT, 1)).prefill }));
          } finally {
            await actor.close();
          }
        },
      }));
      sides.push({
        name: 'llama.cpp',
        measure: () => load.measure(async () => ({ decode: await llamaBench(tools, model, benchThreads, 0, TOKENS), prefill: await llamaBench(tools, model, benchThreads, 1000, 0) })),
      });
      const results = await rotated(round, sides);
      for (const [side, value] of results) {
        const label = threads === undefined ? 'default threads' : plural(threads);
        record(`decode, one stream, ${label}`, side, value.decode);
        if (threads !== undefined) record(`prefill ~1000 tokens, ${label}`, side, value.prefill);
      }
    }
  }
  const defaultsText = [...defaultThreadsOf].map(([engine, threads]) => `${engine} ${threads}`).join(', ');

  const ctx = String(CONTEXT * SLOTS);
  const servers: Array<{ name: string; url: string; model: string; child: ChildProcess }> = [];
  const llamaServer = await startServer(tools.server, ['-m', model, '-t', String(MAX_THREADS), '-np', String(SLOTS), '-c', ctx, '--port', '0', '--host', '127.0.0.1', '-fa', 'off'],
    /listening on (http:\/\/[\d.:]+)/);
  servers.push({ name: 'llama.cpp', url: llamaServer.url, model: 'model', child: llamaServer.child });
  const ourModel = model.split('/').at(-1)?.replace(/\.gguf$/, '') ?? 'bench';
  for (const engine of ENGINES) {
    const ours = await startServer(process.execPath, ['bin/llama-actors.mjs', 'serve', '--model', model, '--port', '0', '--slots', String(SLOTS), '--threads', String(MAX_THREADS), '--engine', engine, '--context-size', String(CONTEXT), '--data-dir', `.llama-actors/bench-llama-cpp-${engine}`],
      /serving model "[^"]+" at (http:\/\/[\d.:]+)/);
    servers.push({ name: engine, url: ours.url, model: ourModel, child: ours.child });
  }
  const concurrentRow = `${SLOTS} concurrent streams over HTTP, ${plural(MAX_THREADS)}`;
  const serialRow = `the same ${SLOTS} one after another, ${plural(MAX_THREADS)}`;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const concurrent of round % 2 === 0 ? [true, false] : [false, true]) {
        const results = await rotated(round, servers.map((server) => ({ name: server.name, measure: () => load.measure(() => serve(server.url, server.model, concurrent), server.child.pid === undefined ? [] : [server.child.pid]) })));
        for (const [side, value] of results) record(concurrent ? concurrentRow : serialRow, side, value);
      }
    }
  } finally {
    for (const server of servers) server.child.kill('SIGTERM');
  }

  console.log(`\nllama.cpp ${tools.release} tools vs llama-actors on ${model} (${ROUNDS} rounds, ${TOKENS} tokens; other processes: ${load.coresText} cores; default threads: ${defaultsText})\n`);
  const header = ENGINES.map((engine) => `llama-actors ${engine} tok/s | ratio`).join(' | ');
  console.log(`| measure | llama.cpp tok/s | ${header} |\n|---|---|${ENGINES.map(() => '---|---').join('|')}|`);
  const cell = (values: number[] | undefined) => median(values ?? []);
  for (const [name, sides] of rows) {
    const theirs = cell(sides.get('llama.cpp'));
    const spread = (values: number[] | undefined) => (values && values.length > 1 ? ` (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})` : '');
    const ours = ENGINES.map((engine) => `${cell(sides.get(engine)).toFixed(1)}${spread(sides.get(engine))} | ${(cell(sides.get(engine)) / theirs).toFixed(2)}`).join(' | ');
    console.log(`| ${name} | ${theirs.toFixed(1)}${spread(sides.get('llama.cpp'))} | ${ours} |`);
  }
  const ratio = (side: string) => cell(rows.get(concurrentRow)?.get(side)) / cell(rows.get(serialRow)?.get(side));
  console.log(`| concurrent ÷ one after another | ${ratio('llama.cpp').toFixed(2)} | ${ENGINES.map((engine) => `${ratio(engine).toFixed(2)} | `).join(' | ')} |`);
}

await main();
