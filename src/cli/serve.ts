import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { createServer, type LlamaActorsServer } from '../server/createServer.js';
import {
  CliError,
  ExitCode,
  intFlag,
  isolationFlag,
  loadFlags,
  logLevel,
  MODEL_FLAGS_HELP,
  MODEL_OPTIONS,
  numberFlag,
  parse,
  type ParsedValues,
  stringFlag,
  UsageError,
} from './args.js';
import { createCliLogger } from './logger.js';
import { NATS_FLAGS_HELP, NATS_OPTIONS } from './natsFlags.js';
import { openServeTarget } from './serveTarget.js';
import { STORE_FLAGS_HELP, STORE_OPTIONS, storeFlag } from './storeFlags.js';
import { REMOTE_FLAGS_HELP, REMOTE_OPTIONS } from './remoteFlags.js';
import { onShutdownSignal } from './signals.js';

export const SERVE_USAGE = `Usage: llama-actors serve [flags]

Loads one model and serves it over HTTP: OpenAI-compatible endpoints (/v1/chat/completions,
/v1/completions, /v1/embeddings, /v1/models), native actor and session routes, /health, /metrics
and a chat page at /. Ctrl-C (SIGINT) or SIGTERM stops accepting connections, closes idle ones,
lets requests in flight finish for --grace seconds, then aborts them, unloads the model and exits 0
(a second signal exits at once).

Server flags:
      --port N           port to listen on, 0 for any free one (default: 8080)
      --host HOST        interface to bind (default: 127.0.0.1); anything but loopback needs --api-key
      --api-key-file F   a file holding the bearer token every request except / and /health must
                         carry (default: $LLAMA_ACTORS_API_KEY, else none). Never on the command
                         line, where any user can read it with ps.
      --allowed-host H   a Host name the server answers to, repeatable, or '*' for any
                         (default: loopback names, plus the bound address or this machine's names)
      --cors ORIGINS     origins whose pages may call the server from a browser: comma-separated,
                         repeatable, scheme://host:* for any port, '*' for any, or 'off' for no CORS
                         (default: http(s)://localhost:*, http(s)://127.0.0.1:*, http(s)://[::1]:*)
      --grace SECONDS    on SIGTERM / SIGINT, how long requests in flight may take to finish before
                         they are aborted (default: 10)

${MODEL_FLAGS_HELP.replace('COMMAND_DEFAULT', 'info')}

Cluster: with --nats URL the server is a front end of a NATS cluster too: every model its workers
(llama-actors worker) serve is listed and served here (a session's turns go to the replica that
served it last, else to the least-loaded replica with a free slot); --model adds a local model
beside them, and without --model there is none.

${NATS_FLAGS_HELP}

${STORE_FLAGS_HELP}

${REMOTE_FLAGS_HELP}

Logs go to stderr: JSON lines, or readable lines on a terminal.

Examples:
  llama-actors serve
  llama-actors serve --model ~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --port 3000 --threads 2
  LLAMA_ACTORS_API_KEY="$(openssl rand -hex 16)" llama-actors serve --host 0.0.0.0
  llama-actors serve --host 0.0.0.0 --api-key-file /run/secrets/llama-key --allowed-host llm.internal
  llama-actors serve --nats nats://127.0.0.1:4222            # a front end of the workers' models
  llama-actors serve --nats nats://127.0.0.1:4222 --store nats --port 8081   # a second front end, same sessions
  VLLM_KEY=… llama-actors serve --remote qwen=http://gpu:8000/v1,model=Qwen/Qwen2.5-7B-Instruct,key-env=VLLM_KEY`;

const SERVE_OPTIONS = {
  ...MODEL_OPTIONS,
  ...NATS_OPTIONS,
  ...STORE_OPTIONS,
  ...REMOTE_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'allowed-host': { type: 'string', multiple: true },
  cors: { type: 'string', multiple: true },
  grace: { type: 'string' },
} as const;

/** Seconds requests in flight may take to finish after SIGTERM / SIGINT, by default. */
const DEFAULT_GRACE_SECONDS = 10;

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
  const cors = corsFlag(values);
  const graceMs = Math.round((numberFlag(values, 'grace', 0, 3_600) ?? DEFAULT_GRACE_SECONDS) * 1_000);
  const load = loadFlags(values);
  const isolation = isolationFlag(values);
  const logger = await createCliLogger(logLevel(values, 'info'));
  const dataDir = stringFlag(values, 'data-dir') ?? '.llama-actors';
  const store = storeFlag(values);

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
    const runtime = await openServeTarget({ values, model: stringFlag(values, 'model'), load, isolation, dataDir, store, logger });
    try {
      if (stopRequested) return ExitCode.Ok;
      const server = createServer({
        router: runtime.router,
        models: runtime.models,
        sessions: runtime.sessions,
        store: runtime.store,
        host,
        port,
        ...(apiKey ? { apiKey } : {}),
        ...(allowedHosts ? { allowedHosts } : {}),
        ...(cors === undefined ? {} : { cors }),
        modelDirs: runtime.modelDirs,
        logger,
      });
      let url: string;
      try {
        url = await server.listen();
      } catch (error) {
        await server.close().catch(() => {});
        throw new CliError(`could not listen on ${host}:${port}: ${(error as Error).message}`);
      }
      logger.info({ url, model: runtime.label() }, 'listening; loading the model');
      try {
        // /health answers 503 `loading` meanwhile; a signal stops the load.
        const loading = runtime.load();
        loading.catch(() => {});
        const loaded = await Promise.race([loading.then(() => true), stopped.then(() => false)]);
        if (!loaded) return ExitCode.Ok;
        process.stdout.write(`${banner(url, runtime.label(), apiKey !== undefined)}\n`);
        logger.info({ url, model: runtime.label(), dataDir }, 'serving');
        await stopped;
      } finally {
        await closeGracefully(server, graceMs, () => runtime.close(), logger);
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

/** `--cors`, repeatable and comma-separated: `off` sends no CORS headers, `*` allows any origin. */
function corsFlag(values: ParsedValues): string[] | '*' | false | undefined {
  const raw = values.cors;
  if (raw === undefined) return undefined;
  const origins = (Array.isArray(raw) ? raw : [String(raw)]).flatMap((value) => value.split(',')).map((origin) => origin.trim()).filter(Boolean);
  if (origins.includes('off')) {
    if (origins.length > 1) throw new UsageError("--cors off cannot be combined with origins");
    return false;
  }
  if (origins.includes('*')) return '*';
  if (origins.length === 0) throw new UsageError("--cors needs an origin (https://app.example), '*' or 'off'");
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/i.test(origin.replace(/\/$/, ''))) {
      throw new UsageError(`--cors takes origins like https://app.example or http://localhost:*, got '${origin}'`);
    }
  }
  return origins;
}

/**
 * Stops the server: no new connections (the listening socket closes, so a connect is refused),
 * idle keep-alive connections closed at once and again as each response in flight ends, requests
 * in flight given `graceMs` to finish; past it they are aborted (`abort`: the router's dispose ends
 * their streams with ACTOR_STOPPED), and a connection still open a second later is cut.
 */
async function closeGracefully(server: LlamaActorsServer, graceMs: number, abort: () => Promise<void>, logger: Logger): Promise<void> {
  const http = server.app.server;
  const closing = server.close();
  http.closeIdleConnections();
  const reaper = setInterval(() => http.closeIdleConnections(), 100);
  let timer: NodeJS.Timeout | undefined;
  try {
    const inTime = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    if (inTime) return;
    logger.warn({ graceMs }, 'grace period over: aborting requests in flight');
    await abort();
    timer = setTimeout(() => http.closeAllConnections(), 1_000);
    await closing;
  } finally {
    clearTimeout(timer);
    clearInterval(reaper);
  }
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
