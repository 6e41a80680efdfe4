/**
 * A real llama.cpp `llama-server` for tests: built once from the source node-llama-cpp bundles
 * (scripts/llamaServer.ts, several minutes the first time), started on a free port on 127.0.0.1,
 * ready once `GET /health` answers 200, and stopped with SIGTERM (SIGKILL after a grace period).
 *
 * ```ts
 * await using server = await startLlamaServer({ model: await ensureTinyModel(), slots: 2 });
 * const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'none' });
 * ```
 *
 * Facts about this server (llama.cpp v0.5.0) the options rely on:
 * - `-c` is the context of all slots together: each of the `-np` slots gets `contextSize / slots`.
 * - `GET /slots` is on by default; `--slots` is passed anyway so it stays on whatever the default.
 * - With `--api-key`, every route but `/health` (and `/models`) wants `Authorization: Bearer KEY`.
 *
 * No orphans: every server is SIGKILLed when this process exits, and a detached `sh` watchdog kills
 * it when this process dies without running exit handlers (SIGKILL, a crashed test worker).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { ensureLlamaServer } from '../../../scripts/llamaServer.js';

/** How to start the server. */
export interface LlamaServerOptions {
  /** Path of the GGUF model (`-m`). */
  model: string;
  /** Parallel slots (`-np`); default 1. */
  slots?: number;
  /** Context of all slots together (`-c`); default 512 per slot. */
  contextSize?: number;
  /**
   * Serve `/v1/embeddings` (`--embeddings --pooling mean`: the generated models declare no pooling,
   * and without one /v1/embeddings answers 400 "Pooling type 'none' is not OAI compatible").
   * Chat completions keep working on such a server.
   */
  embeddings?: boolean;
  /** Pooling for embeddings (`--pooling`); default `mean` when `embeddings` is set. */
  pooling?: 'none' | 'mean' | 'cls' | 'last' | 'rank';
  /** Require `Authorization: Bearer <apiKey>` (`--api-key`). */
  apiKey?: string;
  /** A multimodal projector GGUF (`--mmproj`), for image input. */
  mmproj?: string;
  /** CPU threads (`-t`, also `-tb`); default 1, since tests share 2 cores. */
  threads?: number;
  /** Further arguments, appended last. */
  extraArgs?: string[];
  /** How long the server may take to answer `/health` with 200 (not counting the build); default 60 s. */
  startTimeoutMs?: number;
}

/** One slot as `GET /slots` reports it (only the fields tests use are typed). */
export interface LlamaServerSlot {
  id: number;
  is_processing: boolean;
  n_ctx?: number;
  id_task?: number;
  [field: string]: unknown;
}

/** A running server. */
export interface LlamaServerProcess extends AsyncDisposable {
  /** The OpenAI-compatible base URL, `http://127.0.0.1:PORT/v1`. */
  readonly baseURL: string;
  /** `http://127.0.0.1:PORT`, for llama-server's own routes (`/health`, `/slots`, `/props`). */
  readonly origin: string;
  readonly port: number;
  readonly pid: number;
  /** The last lines the server wrote (stderr and stdout), for failure messages. */
  log(): string;
  /** `GET /slots` (with the API key when there is one). */
  slots(): Promise<LlamaServerSlot[]>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s); resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const LOG_LINES = 200;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Builds `llama-server` if needed, starts it as `options` say and waits until it is ready. */
export async function startLlamaServer(options: LlamaServerOptions): Promise<LlamaServerProcess> {
  const binary = await ensureLlamaServer();
  // A free port can be taken between choosing it and the server binding it: retry on that only.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, await freePort(), options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortInUseError)) throw error;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(binary: string, port: number, options: LlamaServerOptions): Promise<LlamaServerProcess> {
  const slots = options.slots ?? 1;
  const threads = options.threads ?? 1;
  const args = [
    '--host', '127.0.0.1', '--port', String(port),
    '-m', options.model,
    '-np', String(slots),
    '-c', String(options.contextSize ?? 512 * slots),
    '-t', String(threads), '-tb', String(threads),
    '--slots',
    ...(options.embeddings ? ['--embeddings'] : []),
    ...(options.pooling !== undefined || options.embeddings ? ['--pooling', options.pooling ?? 'mean'] : []),
    ...(options.apiKey !== undefined ? ['--api-key', options.apiKey] : []),
    ...(options.mmproj !== undefined ? ['--mmproj', options.mmproj] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const lines = new RingBuffer(LOG_LINES);
  child.stdout!.setEncoding('utf8').on('data', (text: string) => lines.push(text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => lines.push(text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const origin = `http://127.0.0.1:${port}`;
  const headers: Record<string, string> = options.apiKey !== undefined ? { authorization: `Bearer ${options.apiKey}` } : {};
  let stopping: Promise<void> | undefined;
  const server: LlamaServerProcess = {
    baseURL: `${origin}/v1`,
    origin,
    port,
    pid: child.pid ?? -1,
    log: () => lines.text(),
    async slots() {
      const response = await fetch(`${origin}/slots`, { headers });
      if (!response.ok) throw new Error(`GET /slots: ${response.status} ${await response.text()}`);
      return (await response.json()) as LlamaServerSlot[];
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        live.delete(child);
      })();
      return stopping;
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };

  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let early: string | undefined;
  void exited.then(({ code, signal }) => (early = `exited with ${signal ?? code}`));
  void spawnError.then((error) => (early = `failed to start: ${error.message}`));
  for (;;) {
    if (early !== undefined) {
      await server.stop();
      const log = lines.text();
      if (/couldn't bind|address already in use/i.test(log)) throw new PortInUseError(`port ${port} in use`);
      throw new Error(`llama-server ${early} before it was ready\n${binary} ${args.join(' ')}\n--- its output ---\n${log}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`llama-server was not ready within ${timeoutMs} ms\n${binary} ${args.join(' ')}\n--- its output ---\n${lines.text()}`);
    }
    try {
      const response = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Kills `child` when this process exits, or (via a detached watchdog) when it dies without exiting cleanly. */
function track(child: ChildProcess): void {
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const server of live) server.kill('SIGKILL');
    });
  }
  if (child.pid === undefined) return;
  const watchdog = spawn(
    'sh',
    ['-c', `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  child.once('exit', () => {
    if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The last `capacity` lines of a stream of text chunks. */
class RingBuffer {
  readonly #lines: string[] = [];
  #partial = '';

  constructor(readonly capacity: number) {}

  push(text: string): void {
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      this.#lines.push(line);
      if (this.#lines.length > this.capacity) this.#lines.shift();
    }
  }

  text(): string {
    return [...this.#lines, this.#partial].join('\n');
  }
}

/**
 * How long, in ms, until every slot of `target` is idle (polled every 10 ms), or `Infinity` when
 * one is still processing after `ms`: how the tests see that a caller's abort freed the remote slot.
 */
export async function idleWithin(target: LlamaServerProcess, ms: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if ((await target.slots()).every((slot) => !slot.is_processing)) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * The server's log once it matches `pattern`, or as it is after `ms`: its stderr reaches this
 * process through a pipe, so a line it wrote may arrive after what it answers over HTTP (a slot
 * already idle, and the "cancel task" line still on its way).
 */
export async function logWithin(target: LlamaServerProcess, pattern: RegExp, ms: number): Promise<string> {
  const started = performance.now();
  while (!pattern.test(target.log()) && performance.now() - started < ms) await new Promise((resolve) => setTimeout(resolve, 10));
  return target.log();
}
