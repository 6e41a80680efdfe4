import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer } from '../server/createServer.js';
import {
  CliError,
  ExitCode,
  intFlag,
  loadFlags,
  logLevel,
  MODEL_FLAGS_HELP,
  MODEL_OPTIONS,
  parse,
  type ParsedValues,
  stringFlag,
  UsageError,
} from './args.js';
import { createCliLogger } from './logger.js';
import { openRuntime } from './runtime.js';
import { onShutdownSignal } from './signals.js';

export const SERVE_USAGE = `Usage: llama-actors serve [flags]

Loads one model and serves it over HTTP: OpenAI-compatible endpoints (/v1/chat/completions,
/v1/completions, /v1/embeddings, /v1/models), native actor and session routes, /health, /metrics
and a chat page at /. Ctrl-C (SIGINT) or SIGTERM stops accepting requests and unloads the model.

Server flags:
      --port N           port to listen on, 0 for any free one (default: 8080)
      --host HOST        interface to bind (default: 127.0.0.1); anything but loopback needs --api-key
      --api-key-file F   a file holding the bearer token every request except / and /health must
                         carry (default: $LLAMA_ACTORS_API_KEY, else none). Never on the command
                         line, where any user can read it with ps.
      --allowed-host H   a Host name the server answers to, repeatable, or '*' for any
                         (default: loopback names, plus the bound address or this machine's names)

${MODEL_FLAGS_HELP.replace('COMMAND_DEFAULT', 'info')}

Logs go to stderr: JSON lines, or readable lines on a terminal.

Examples:
  llama-actors serve
  llama-actors serve --model ~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --port 3000 --threads 2
  LLAMA_ACTORS_API_KEY="$(openssl rand -hex 16)" llama-actors serve --host 0.0.0.0
  llama-actors serve --host 0.0.0.0 --api-key-file /run/secrets/llama-key --allowed-host llm.internal`;

const SERVE_OPTIONS = {
  ...MODEL_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
} as const;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** `llama-actors serve`: resolves with the exit code once the server has stopped. */
export async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, SERVE_OPTIONS);
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return ExitCode.Ok;
  }
  const port = intFlag(values, 'port', 0, 65_535) ?? 8080;
  const host = stringFlag(values, 'host') ?? '127.0.0.1';
  const apiKey = await readApiKey(values);
  if (!LOOPBACK.has(host) && !apiKey) {
    throw new UsageError(`--host ${host} is not a loopback address: set LLAMA_ACTORS_API_KEY or pass --api-key-file FILE`);
  }
  const allowedHosts = allowedHostsFlag(values);
  const load = loadFlags(values);
  const logger = await createCliLogger(logLevel(values, 'info'));
  const dataDir = stringFlag(values, 'data-dir') ?? '.llama-actors';

  // A signal during loading stops it too: the runtime is closed as soon as it exists.
  let stopRequested = false;
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const dispose = onShutdownSignal((signal) => {
    process.stderr.write(`\n${signal}: shutting down (again to force)\n`);
    stopRequested = true;
    wake?.();
  });
  try {
    // The data directory is locked and the model published, not loaded: the port is bound first,
    // so a port in use fails at once, before any model is loaded.
    const runtime = await openRuntime({ model: stringFlag(values, 'model'), load, dataDir, logger, command: 'serve' });
    try {
      if (stopRequested) return ExitCode.Ok;
      const server = createServer({
        router: runtime.router,
        models: runtime.models,
        sessions: runtime.sessions,
        host,
        port,
        ...(apiKey ? { apiKey } : {}),
        ...(allowedHosts ? { allowedHosts } : {}),
        modelDirs: [dirname(runtime.modelPath)],
        logger,
      });
      let url: string;
      try {
        url = await server.listen();
      } catch (error) {
        await server.close().catch(() => {});
        throw new CliError(`could not listen on ${host}:${port}: ${(error as Error).message}`);
      }
      logger.info({ url, model: runtime.modelId }, 'listening; loading the model');
      try {
        // /health answers 503 `loading` meanwhile; a signal stops the load.
        const loading = runtime.load();
        loading.catch(() => {});
        const loaded = await Promise.race([loading.then(() => true), stopped.then(() => false)]);
        if (!loaded) return ExitCode.Ok;
        process.stdout.write(`${banner(url, runtime.modelId, apiKey !== undefined)}\n`);
        logger.info({ url, model: runtime.modelId, dataDir }, 'serving');
        await stopped;
      } finally {
        await server.close();
        logger.info('server closed');
      }
      return ExitCode.Ok;
    } finally {
      await runtime.close();
    }
  } finally {
    dispose();
  }
}

/**
 * The key from `--api-key-file` or `LLAMA_ACTORS_API_KEY`. A key given as `--api-key KEY` is
 * refused: the command line of a process is readable by every user of the machine.
 */
async function readApiKey(values: ParsedValues): Promise<string | undefined> {
  if (values['api-key'] !== undefined) {
    throw new UsageError('--api-key would show the key to every user in ps: set LLAMA_ACTORS_API_KEY or pass --api-key-file FILE');
  }
  const file = stringFlag(values, 'api-key-file');
  if (file === undefined) return process.env.LLAMA_ACTORS_API_KEY || undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --api-key-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const key = text.trim();
  if (key.length === 0 || /\s/.test(key)) throw new UsageError(`--api-key-file ${file} must hold one key on one line`);
  return key;
}

/** `--allowed-host`, repeatable and comma-separated; `*` allows any. */
function allowedHostsFlag(values: ParsedValues): string[] | '*' | undefined {
  const raw = values['allowed-host'];
  if (raw === undefined) return undefined;
  const names = (Array.isArray(raw) ? raw : [String(raw)]).flatMap((value) => value.split(',')).map((name) => name.trim()).filter(Boolean);
  if (names.includes('*')) return '*';
  if (names.length === 0) throw new UsageError('--allowed-host needs a host name');
  return names;
}

/** The URL, and how to call it with curl and with the openai client. */
function banner(url: string, model: string, withKey: boolean): string {
  const auth = withKey ? ` -H "authorization: Bearer $LLAMA_ACTORS_API_KEY"` : '';
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 64 });
  return `llama-actors: serving model "${model}" at ${url}
  chat page   ${url}/
  health      curl ${url}/health
  curl        curl ${url}/v1/chat/completions${auth} -H 'content-type: application/json' \\
                -d '${body}'
  openai      import OpenAI from 'openai';
              const client = new OpenAI({ baseURL: '${url}/v1', apiKey: ${withKey ? 'process.env.LLAMA_ACTORS_API_KEY' : "'unused'"} });
              const stream = await client.chat.completions.create({ model: '${model}', stream: true,
                messages: [{ role: 'user', content: 'Hello!' }] });
              for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
Ctrl-C to stop.`;
}
