/**
 * The reliability soak: the project's real server (`llama-actors serve`, a child process on the
 * tiny model, 4 slots) attacked for `--minutes` the way a flaky network, a careless client and an
 * attacker would, in rounds of: fuzzed requests to every route (the generators of the fuzz test),
 * an abort storm on the streaming routes, an overload burst, slow clients, and a conversation that
 * is SIGKILLed mid-turn with the server restarted on the same data directory. Only 127.0.0.1;
 * every loop is bounded in count and time.
 *
 *   npm run soak -- --minutes 10 [--seed 1]
 *
 * Prints running figures and a summary; exits 1 if any 5xx other than an overload 503, any hang,
 * any lost turn, any corrupt session file, or any slot still busy at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import { ensureTinyAdapters, ensureTinyModel } from './make-models.js';
import { exchange } from '../test/model/reliability/rawHttp.js';
import { fuzzRequest } from '../test/model/reliability/requestArbitraries.js';
import { responseProblem } from '../test/model/reliability/responseCheck.js';
import { mulberry32 } from '../src/messaging/mulberry32.js';

const arg = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const MINUTES = arg('minutes', 1);
const SEED = arg('seed', 1);
const HANG_MS = 30_000;

const figures = { requests: 0, statuses: new Map<string, number>(), problems: [] as string[], hangs: 0, aborts: 0, overload503: 0, slowCut: 0, kills: 0, turnsDone: 0, turnsLost: 0, corruptFiles: 0, storedTurns: 0, rssMiB: [] as number[] };
const count = (key: string): void => {
  figures.statuses.set(key, (figures.statuses.get(key) ?? 0) + 1);
};

interface Server {
  child: ChildProcess;
  url: string;
  port: number;
}

async function startServer(dataDir: string, model: string): Promise<Server> {
  const child = spawn(process.execPath, ['bin/llama-actors.mjs', 'serve', '--model', model, '--port', '0', '--slots', '4', '--threads', '1', '--data-dir', dataDir, '--log-level', 'error'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /serving model "[^"]+" at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before serving`)));
  });
  return { child, url, port: Number(new URL(url).port) };
}

async function rssOf(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const json = async (url: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
  fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(HANG_MS) });

/** Prints what the model says of itself when something hung (once per kind of problem). */
const snapshotsTaken = new Set<string>();
async function snapshot(server: Server, what: string): Promise<void> {
  if (snapshotsTaken.has(what.slice(0, 30)) || snapshotsTaken.size > 5) return;
  snapshotsTaken.add(what.slice(0, 30));
  const status = await json(`${server.url}/actors/tiny/ask`, { type: 'status', payload: null }).then((r) => r.text(), (e: unknown) => String(e));
  const health = await json(`${server.url}/health`).then((r) => r.text(), (e: unknown) => String(e));
  console.log(`HANG: ${what}\n  status: ${status.slice(0, 600)}\n  health: ${health.slice(0, 300)}`);
}

/** Fuzzed requests from the fuzz test's generators, 4 at a time. */
async function fuzzRound(server: Server, round: number, adapters: { valid: string; badShape: string }, modelsDir: string): Promise<void> {
  const context = { port: server.port, modelsDir, adapters, sessionIds: ['soak-1', 'soak-2'] };
  const requests = fc.sample(fuzzRequest(context), { seed: SEED * 100_003 + round, numRuns: 60 });
  for (let i = 0; i < requests.length; i += 4) {
    await Promise.all(
      requests.slice(i, i + 4).map(async (request) => {
        const response = await exchange(server.port, request, { timeoutMs: HANG_MS });
        figures.requests++;
        count(response.outcome === 'answered' ? String(response.status) : response.outcome);
        if (response.outcome === 'timeout') {
          figures.hangs++;
          await snapshot(server, `fuzz request hung: ${request.method} ${request.target.slice(0, 80)} ${request.body?.toString('utf8').slice(0, 200) ?? ''}`);
        }
        const problem = responseProblem(request.method, request.route, response);
        if (problem) figures.problems.push(`${request.method} ${request.target.slice(0, 80)}: ${problem}`);
      }),
    );
  }
}

/** Streaming requests whose sockets are destroyed at random moments, 16 at once. */
async function abortStorm(server: Server, random: () => number): Promise<void> {
  const bodies: Array<[string, unknown]> = [
    ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'go' }], max_tokens: 200, stream: true }],
    ['/v1/completions', { model: 'tiny', prompt: 'go', max_tokens: 200, stream: true }],
    ['/actors/tiny/stream', { type: 'generate', payload: { prompt: 'go', params: { maxTokens: 200 } } }],
    ['/sessions/soak-1/messages', { message: 'go', params: { maxTokens: 50 } }],
  ];
  await Promise.all(
    Array.from({ length: 16 }, () => {
      const [path, body] = bodies[Math.floor(random() * bodies.length)] as [string, unknown];
      const text = JSON.stringify(body);
      const cutBody = random() < 0.25; // before the request is sent in full
      return new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n`;
          socket.write(head + (cutBody ? text.slice(0, text.length >> 1) : text));
          setTimeout(() => {
            socket.destroy();
            figures.aborts++;
            resolve();
          }, Math.floor(random() * 200));
        });
        socket.on('error', () => resolve());
      });
    }),
  );
}

/** More requests than slots + queue at once: the extra ones must be 503, nothing else may fail. */
async function overload(server: Server): Promise<void> {
  const responses = await Promise.all(
    Array.from({ length: 80 }, (_, i) =>
      json(`${server.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 8, stream: i % 2 === 0 }).then(
        async (response) => ({ status: response.status, text: await response.text() }),
        () => ({ status: 0, text: '' }),
      ),
    ),
  );
  for (const { status, text } of responses) {
    figures.requests++;
    count(String(status));
    if (status === 503) figures.overload503++;
    else if (status !== 200) figures.problems.push(`overload: ${status} ${text.slice(0, 120)}`);
    if (status === 0) figures.hangs++;
  }
  if (responses.some((r) => r.status === 0)) await snapshot(server, 'overload requests hung');
}

/** Clients that send their headers a byte at a time: each must be cut (408) by the server. */
async function slowClients(server: Server): Promise<void> {
  await Promise.all(
    Array.from({ length: 10 }, () =>
      new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n'));
        const drip = setInterval(() => socket.writable && socket.write('x'), 1_000);
        const limit = setTimeout(() => {
          figures.problems.push('slow client not cut within 30 s');
          socket.destroy();
        }, 30_000);
        socket.on('close', () => {
          clearInterval(drip);
          clearTimeout(limit);
          figures.slowCut++;
          resolve();
        });
        socket.on('error', () => {});
      }),
    ),
  );
}

/** A conversation whose server is SIGKILLed mid-turn; every turn answered must be stored. */
async function killDuringConversation(server: Server, dataDir: string, random: () => number): Promise<void> {
  let done = 0;
  const turns = 2 + Math.floor(random() * 4);
  for (let i = 0; i < turns; i++) {
    const response = await json(`${server.url}/sessions/soak-kill/messages`, { message: `turn ${i}`, params: { maxTokens: 4 }, stream: false }).catch(() => undefined);
    if (response?.status === 200) done++;
    else if (response === undefined) {
      figures.hangs++;
      await snapshot(server, 'a conversation turn hung');
    }
  }
  void json(`${server.url}/sessions/soak-kill/messages`, { message: 'in flight', params: { maxTokens: 200 }, stream: false }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 50)));
  figures.turnsDone += done;
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    // It died on its own: that is a failure of the server, not one of our kills.
    figures.problems.push(`the server died by itself (${server.child.signalCode ?? `exit ${server.child.exitCode}`})`);
  } else {
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGKILL');
    figures.kills++;
    await exited;
  }
  for (const file of (await readdir(join(dataDir, 'sessions'))).filter((name) => name.endsWith('.json'))) {
    try {
      JSON.parse(await readFile(join(dataDir, 'sessions', file), 'utf8'));
    } catch {
      figures.corruptFiles++;
    }
  }
  // Turns are cumulative: every one answered 200 before any kill must still be stored.
  const stored = JSON.parse(await readFile(join(dataDir, 'sessions', 'soak-kill.json'), 'utf8').catch(() => '{"turns":[]}')) as { turns: unknown[] };
  figures.storedTurns = Math.floor(stored.turns.length / 2);
  figures.turnsLost = Math.max(figures.turnsLost, figures.turnsDone - figures.storedTurns);
}

async function main(): Promise<void> {
  const model = await ensureTinyModel();
  const adapters = await ensureTinyAdapters();
  const dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-soak-'));
  let server = await startServer(dataDir, model);
  const random = mulberry32(SEED);
  for (const id of ['soak-1', 'soak-2', 'soak-kill']) await json(`${server.url}/sessions`, { id, model: 'tiny', params: { maxTokens: 2 } });
  const end = Date.now() + MINUTES * 60_000;
  try {
    for (let round = 0; Date.now() < end; round++) {
      await fuzzRound(server, round, adapters, dirname(model));
      await abortStorm(server, random);
      await overload(server);
      if (round % 3 === 0) await slowClients(server);
      figures.rssMiB.push(await rssOf(server.child.pid));
      if (round % 2 === 1) {
        await killDuringConversation(server, dataDir, random);
        server = await startServer(dataDir, model);
        // A turn in flight at the kill may have completed and been stored: it counts as done too.
        figures.turnsDone = Math.max(figures.turnsDone, figures.storedTurns);
      }
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      console.log(`round ${round + 1}: ${figures.requests} requests, ${figures.aborts} aborts, ${figures.kills} kills, ${figures.problems.length} problems, ${figures.hangs} hangs, server RSS ${figures.rssMiB.at(-1)?.toFixed(0)} MiB (${left} s left)`);
    }
    const status = (await (await json(`${server.url}/actors/tiny/ask`, { type: 'status', payload: null })).json()) as { reply: { busySlots: number; queueDepth: number } };
    const busy = await waitForIdle(server, status.reply);
    report(busy);
  } finally {
    server.child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Polls the model's status until no slot is busy (or 20 s); returns the busy slots left. */
async function waitForIdle(server: Server, first: { busySlots: number; queueDepth: number }): Promise<number> {
  let status = first;
  for (let i = 0; i < 40 && (status.busySlots > 0 || status.queueDepth > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    status = ((await (await json(`${server.url}/actors/tiny/ask`, { type: 'status', payload: null })).json()) as { reply: typeof first }).reply;
  }
  return status.busySlots + status.queueDepth;
}

function report(busyAtEnd: number): void {
  const fivexx = [...figures.statuses].filter(([status]) => /^5\d\d$/.test(status) && status !== '503').reduce((sum, [, n]) => sum + n, 0);
  const rss = figures.rssMiB.filter((v) => v > 0);
  console.log(`\nsoak: ${MINUTES} min, seed ${SEED}`);
  console.log(`  requests ${figures.requests}, by status ${JSON.stringify(Object.fromEntries([...figures.statuses].sort()))}`);
  console.log(`  5xx other than overload 503: ${fivexx}; overload 503s ${figures.overload503}; hangs ${figures.hangs}`);
  console.log(`  aborted streams ${figures.aborts}; slow clients cut ${figures.slowCut}`);
  console.log(`  SIGKILLs ${figures.kills}; turns reported done ${figures.turnsDone}, lost ${figures.turnsLost}; corrupt session files ${figures.corruptFiles}`);
  console.log(`  server RSS ${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MiB; slots busy or queued at the end ${busyAtEnd}`);
  for (const problem of figures.problems.slice(0, 20)) console.log(`  problem: ${problem}`);
  const failed = fivexx > 0 || figures.hangs > 0 || figures.turnsLost > 0 || figures.corruptFiles > 0 || busyAtEnd > 0 || figures.problems.length > 0;
  console.log(failed ? 'soak: FAILED' : 'soak: clean');
  process.exitCode = failed ? 1 : 0;
}

await main();
