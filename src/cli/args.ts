import { parseArgs } from 'node:util';

/** A command-line mistake: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure to report in one line without a stack (missing model file, port in use): exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** Exit codes of the CLI. */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** Flags of every model-running command. */
export const MODEL_OPTIONS: OptionSpecs = {
  model: { type: 'string', short: 'm' },
  slots: { type: 'string' },
  threads: { type: 'string' },
  engine: { type: 'string' },
  isolation: { type: 'string' },
  'context-size': { type: 'string' },
  'data-dir': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `node:util` parseArgs, strict, with its errors turned into {@link UsageError}s. */
export function parse(args: string[], options: OptionSpecs, allowPositionals = false): { values: ParsedValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: values as ParsedValues, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A string flag's value, if given. */
export function stringFlag(values: ParsedValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer flag in `[min, max]`, if given; anything else is a {@link UsageError}. */
export function intFlag(values: ParsedValues, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got '${raw}'`);
  }
  return value;
}

/** A number flag in `[min, max]`, if given. */
export function numberFlag(values: ParsedValues, name: string, min: number, max: number): number | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

/** `--log-level`, else `LLAMA_ACTORS_LOG_LEVEL`, else `fallback`. */
export function logLevel(values: ParsedValues, fallback: LogLevel): LogLevel {
  const fromFlag = stringFlag(values, 'log-level');
  const raw = fromFlag ?? process.env.LLAMA_ACTORS_LOG_LEVEL ?? fallback;
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    const source = fromFlag === undefined ? 'LLAMA_ACTORS_LOG_LEVEL' : '--log-level';
    throw new UsageError(`${source} must be one of ${LOG_LEVELS.join(', ')}, got '${raw}'`);
  }
  return raw as LogLevel;
}

export const MODEL_FLAGS_HELP = `Model flags:
  -m, --model PATH       GGUF model file (default: $LLAMA_ACTORS_MODEL, else the generated demo model,
                         a toy bigram model built on first use under models/)
      --slots N          parallel sequences (default: 2 x CPU cores, at most 8)
      --threads N        CPU threads for decoding (default: every core with the native engine,
                         else cores - 1, at least 1)
      --engine NAME      auto | native | node-llama-cpp: what decodes generations (default: auto,
                         the native batched engine on CPU, node-llama-cpp on a GPU)
      --context-size N   tokens of context per slot (default: the model's, at most 4096)
      --isolation MODE   process | in-process: run the model in a supervised host process of its
                         own, so a llama.cpp crash costs its requests and the host is restarted, or in
                         this process (starts faster; a crash ends it) (default: process)
      --data-dir DIR     where providers, models and sessions are kept (default: ./.llama-actors)
      --log-level LEVEL  ${LOG_LEVELS.join(' | ')} (default: $LLAMA_ACTORS_LOG_LEVEL, else COMMAND_DEFAULT)
  -h, --help             show this help`;

const ENGINES = ['auto', 'native', 'node-llama-cpp'] as const;
const ISOLATIONS = ['process', 'in-process'] as const;

/** `--isolation`: where the model runs (default `process`: a llama.cpp crash must not end the command). */
export function isolationFlag(values: ParsedValues): (typeof ISOLATIONS)[number] {
  const raw = stringFlag(values, 'isolation') ?? 'process';
  if (!(ISOLATIONS as readonly string[]).includes(raw)) throw new UsageError(`--isolation must be one of ${ISOLATIONS.join(', ')}, got '${raw}'`);
  return raw as (typeof ISOLATIONS)[number];
}

/** `--slots`, `--threads`, `--engine` and `--context-size` as the model's load options. */
export function loadFlags(values: ParsedValues): {
  slots?: number;
  threads?: number;
  contextSize?: number;
  engine?: (typeof ENGINES)[number];
} {
  const engine = values.engine;
  if (engine !== undefined && !(ENGINES as readonly unknown[]).includes(engine)) {
    throw new UsageError(`--engine must be one of ${ENGINES.join(', ')}, got '${String(engine)}'`);
  }
  const slots = intFlag(values, 'slots', 1, 64);
  const threads = intFlag(values, 'threads', 1, 1024);
  const contextSize = intFlag(values, 'context-size', 16);
  return {
    ...(slots === undefined ? {} : { slots }),
    ...(threads === undefined ? {} : { threads }),
    ...(contextSize === undefined ? {} : { contextSize }),
    ...(engine === undefined ? {} : { engine: engine as (typeof ENGINES)[number] }),
  };
}
