import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError, ExitCode, type OptionSpecs, parse, UsageError } from './args.js';

/** The repository root: `src/cli/` and `dist/cli/` are both two levels down. */
const ROOT = new URL('../../', import.meta.url);

export const DEMO_USAGE = `Usage: llama-actors demo [flags]

Runs the streaming demo (demo-streaming.ts): publishes a provider, a model and a session, streams an
answer token by token, shows KV-cache reuse on a second turn and four sessions sharing the slots.

Flags:
  -m, --model PATH       GGUF model file (default: $LLAMA_ACTORS_MODEL, else the generated demo model)
      --slots N          parallel sequences (default: 4)
      --data-dir DIR     keep the entities in a FileStore there (default: in memory)
      --max-tokens N     tokens per answer (default: 60)
  -h, --help             show this help`;

const DEMO_OPTIONS: OptionSpecs = {
  model: { type: 'string', short: 'm' },
  slots: { type: 'string' },
  'data-dir': { type: 'string' },
  'max-tokens': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const s = { type: 'string' } as const;
/** The benchmarks and the flags each accepts (all checked here so that a typo is a usage error). */
const BENCHES: Record<string, { file: string; options: OptionSpecs; about: string }> = {
  router: { file: 'bench/router.ts', options: { rounds: s, asks: s, chunks: s }, about: 'router overhead per ask and per streamed chunk (no model)' },
  model: { file: 'bench/model.ts', options: { rounds: s, tokens: s, threads: s, binary: s }, about: 'runtime vs raw node-llama-cpp decode, 8-way batching, binaries' },
  threads: {
    file: 'bench/threads.ts',
    options: { rounds: s, tokens: s, 'tiny-tokens': s, seconds: s, binary: s },
    about: 'decode speed by thread count, idle and with a busy core',
  },
  sessions: { file: 'bench/sessions.ts', options: { model: s, rounds: s, history: s, threads: s }, about: 'KV-cache reuse across session turns' },
  http: {
    file: 'bench/http.ts',
    options: { rounds: s, tokens: s, threads: s, model: s, concurrency: s },
    about: 'openai-client stream over HTTP vs in-process streamAsk, 1 and 8 streams',
  },
};

export const BENCH_USAGE = `Usage: llama-actors bench [NAME] [flags]

Runs one of the project's benchmarks (bench/NAME.ts) and prints its table. Figures and how to read
them: bench/RESULTS.md. Benchmarks with a model use the generated 587 MiB bench model (made on first use).

${Object.entries(BENCHES)
  .map(([name, { about, options }]) => `  ${name.padEnd(9)}${about}${name === 'router' ? ' (default)' : ''}\n           flags: ${Object.keys(options).map((f) => `--${f} N`).join(' ')}`)
  .join('\n')}

Examples:
  llama-actors bench                       # = bench router
  llama-actors bench router --rounds 3
  llama-actors bench http --rounds 3 --tokens 48`;

/** `llama-actors demo`. */
export async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, DEMO_OPTIONS);
  if (values.help) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return ExitCode.Ok;
  }
  return runScript('demo-streaming.ts', args);
}

/** `llama-actors bench [NAME]`. */
export async function bench(args: string[]): Promise<number> {
  const name = args[0] !== undefined && !args[0].startsWith('-') ? args[0] : 'router';
  const rest = name === args[0] ? args.slice(1) : args;
  const spec = BENCHES[name];
  if (!spec) throw new UsageError(`unknown benchmark '${name}' (one of: ${Object.keys(BENCHES).join(', ')})`);
  const { values } = parse(rest, { ...spec.options, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return ExitCode.Ok;
  }
  return runScript(spec.file, rest);
}

/**
 * Runs a TypeScript script of the repository in a child Node with tsx's loader (the scripts are not
 * part of the build), with this terminal. Resolves with its exit code (128 + signal if killed).
 * Ctrl-C reaches the child through the terminal's process group; a SIGTERM sent to this process is
 * passed on.
 */
function runScript(relative: string, args: string[]): Promise<number> {
  const script = fileURLToPath(new URL(relative, ROOT));
  if (!existsSync(script)) throw new CliError(`${relative} is not here (the demo and benchmarks run from a checkout of the repository)`);
  let loader: string;
  try {
    loader = import.meta.resolve('tsx');
  } catch {
    throw new CliError(`running ${relative} needs tsx (a devDependency): npm install`);
  }
  const child = spawn(process.execPath, ['--import', loader, script, ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const ignore = () => {};
  process.on('SIGINT', ignore); // the child got it too; wait for it to finish
  process.on('SIGTERM', forward);
  return new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
      const signals: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };
      resolve(code ?? 128 + (signal ? (signals[signal] ?? 1) : 1));
    });
  });
}
