/**
 * Generates the project's own GGUF models, since nothing may download weights: deterministic from
 * fixed seeds, written under `models/` at the repository root, and cached (a file is rebuilt only
 * when its sidecar `<name>.json` does not record this generator version and these parameters).
 *
 * As a library, tests and demos call `ensureTinyModel()` and friends, which build on first use.
 * As a CLI:
 *
 * ```sh
 * npx tsx scripts/make-models.ts [tiny|demo|bench|adapters|all]   # default: tiny demo adapters
 * ```
 *
 * `all` includes the bench model (hundreds of MB), which is otherwise only made on demand.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_MODEL_PARAMS, writeBenchModel } from './models/benchModel.js';
import { Corpus } from './models/Corpus.js';
import { DEMO_MODEL_PARAMS, writeDemoModel } from './models/demoModel.js';
import { ensureBuilt } from './models/ensureBuilt.js';
import { TINY_ADAPTER_PARAMS, writeTinyAdapter } from './models/loraAdapters.js';
import { TINY_MODEL_PARAMS, writeTinyModel } from './models/tinyModel.js';

/** Bump whenever a change to the generators changes their output, so cached files are rebuilt. */
export const GENERATOR_VERSION = 1;

/** Where generated models go: `models/` at the repository root (git-ignored). */
export const MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url));

/** Paths of the tiny model's LoRA adapters. */
export interface TinyAdapterPaths {
  /** Loads onto the tiny model and changes its greedy output at scale 1. */
  readonly valid: string;
  /** Has a `lora_a` of the wrong width; llama.cpp must refuse to load it. */
  readonly badShape: string;
}

/** The tiny random-weight llama (~0.5 MB, 512 tokens, 2 blocks, context 512). Returns its path. */
export function ensureTinyModel(): Promise<string> {
  const corpus = Corpus.load();
  return ensureBuilt(
    join(MODELS_DIR, 'tiny.gguf'),
    GENERATOR_VERSION,
    { ...TINY_MODEL_PARAMS, corpus: corpus.hash },
    (path) => writeTinyModel(path, TINY_MODEL_PARAMS, corpus),
  );
}

/** The bigram demo model that writes legible English from `scripts/corpus/`. Returns its path. */
export function ensureDemoModel(): Promise<string> {
  const corpus = Corpus.load();
  return ensureBuilt(
    join(MODELS_DIR, 'demo.gguf'),
    GENERATOR_VERSION,
    { ...DEMO_MODEL_PARAMS, corpus: corpus.hash },
    (path) => writeDemoModel(path, DEMO_MODEL_PARAMS, corpus),
  );
}

/** The benchmark model: llama layout at TinyLlama width in F16, hundreds of MB. Returns its path. */
export function ensureBenchModel(): Promise<string> {
  return ensureBuilt(join(MODELS_DIR, 'bench.gguf'), GENERATOR_VERSION, BENCH_MODEL_PARAMS, (path) =>
    writeBenchModel(path, BENCH_MODEL_PARAMS),
  );
}

/** A rank-16 LoRA adapter for the bench model (attention query/value projections and the output matrix). Returns its path. */
export function ensureBenchAdapter(): Promise<string> {
  const params = { seed: 0xbe7d, rank: 16 };
  return ensureBuilt(join(MODELS_DIR, 'bench-lora.gguf'), GENERATOR_VERSION, { ...params, base: BENCH_MODEL_PARAMS }, (path) =>
    writeTinyAdapter(path, 'valid', params, BENCH_MODEL_PARAMS),
  );
}

/** LoRA adapters for the tiny model, one valid and one with wrong shapes. */
export async function ensureTinyAdapters(): Promise<TinyAdapterPaths> {
  // The adapters' shapes follow the tiny model's parameters, which are therefore part of their key.
  const params = { ...TINY_ADAPTER_PARAMS, base: TINY_MODEL_PARAMS };
  const [valid, badShape] = await Promise.all([
    ensureBuilt(join(MODELS_DIR, 'tiny-lora.gguf'), GENERATOR_VERSION, params, (path) =>
      writeTinyAdapter(path, 'valid', TINY_ADAPTER_PARAMS, TINY_MODEL_PARAMS),
    ),
    ensureBuilt(join(MODELS_DIR, 'tiny-lora-bad-shape.gguf'), GENERATOR_VERSION, params, (path) =>
      writeTinyAdapter(path, 'bad-shape', TINY_ADAPTER_PARAMS, TINY_MODEL_PARAMS),
    ),
  ]);
  return { valid, badShape };
}

const TARGETS = {
  tiny: async () => [await ensureTinyModel()],
  demo: async () => [await ensureDemoModel()],
  bench: async () => [await ensureBenchModel()],
  adapters: async () => Object.values(await ensureTinyAdapters()),
} satisfies Record<string, () => Promise<string[]>>;

type Target = keyof typeof TARGETS;

async function main(args: readonly string[]): Promise<void> {
  const requested = args.length === 0 ? ['tiny', 'demo', 'adapters'] : args;
  const targets = requested.flatMap((name): Target[] =>
    name === 'all' ? ['tiny', 'demo', 'adapters', 'bench'] : [name as Target],
  );
  const unknown = targets.filter((name) => !(name in TARGETS));
  if (unknown.length > 0) {
    throw new Error(`unknown target(s): ${unknown.join(', ')}; expected tiny, demo, bench, adapters or all`);
  }
  for (const target of targets) {
    const started = performance.now();
    const paths = await TARGETS[target]();
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    for (const path of paths) {
      const megabytes = ((await stat(path)).size / 2 ** 20).toFixed(2);
      console.log(`${target.padEnd(8)} ${path} (${megabytes} MiB, ${seconds} s incl. cache check)`);
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
