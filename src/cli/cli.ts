import { readFileSync } from 'node:fs';
import { CliError, ExitCode, UsageError } from './args.js';
import { chat, CHAT_USAGE } from './chat.js';
import { bench, BENCH_USAGE, demo, DEMO_USAGE } from './scripts.js';
import { serve, SERVE_USAGE } from './serve.js';
import { train, TRAIN_USAGE } from './train.js';
import { worker, WORKER_USAGE } from './worker.js';

export const USAGE = `Usage: llama-actors <command> [flags]

An actor runtime for local LLM inference (node-llama-cpp).

Commands:
  serve    serve a model over HTTP (OpenAI-compatible API, sessions, metrics, chat page)
  worker   serve models to a NATS cluster (front ends: serve --nats URL)
  chat     chat with a model in the terminal, on a session kept on disk
  train    fine-tune a model on conversations (llama.cpp's trainer) and extract a LoRA adapter
  demo     run the streaming demo
  bench    run a benchmark (router, model, threads, sessions, http)

Run 'llama-actors <command> --help' for a command's flags.
Without --model, commands use $LLAMA_ACTORS_MODEL, else the generated demo model (a toy).

Flags:
  -h, --help       show this help
  -v, --version    print the version`;

const COMMANDS: Record<string, { run: (args: string[]) => Promise<number>; usage: string }> = {
  serve: { run: serve, usage: SERVE_USAGE },
  worker: { run: worker, usage: WORKER_USAGE },
  chat: { run: chat, usage: CHAT_USAGE },
  train: { run: train, usage: TRAIN_USAGE },
  demo: { run: demo, usage: DEMO_USAGE },
  bench: { run: bench, usage: BENCH_USAGE },
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the CLI; resolves with the process exit code (0 ok, 1 failure, 2 usage error). */
export async function run(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return ExitCode.Usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && args[0] ? COMMANDS[args[0]] : undefined;
    process.stdout.write(`${topic?.usage ?? USAGE}\n`);
    return ExitCode.Ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return ExitCode.Ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`llama-actors: unknown command '${name}' (one of: ${Object.keys(COMMANDS).join(', ')})\nRun 'llama-actors --help' for usage.\n`);
    return ExitCode.Usage;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`llama-actors ${name}: ${error.message}\nRun 'llama-actors ${name} --help' for usage.\n`);
      return ExitCode.Usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`llama-actors ${name}: ${error.message}\n`);
      return ExitCode.Failure;
    }
    process.stderr.write(`llama-actors ${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.Failure;
  }
}
