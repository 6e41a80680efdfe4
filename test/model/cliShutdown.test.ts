import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';

/**
 * `llama-actors serve` on SIGTERM / SIGINT, as a real child process: it stops accepting
 * connections at once, closes idle keep-alive connections at once, lets a stream in flight finish
 * within `--grace` seconds (cut at the end of it otherwise) and exits 0.
 */

const BIN = fileURLToPath(new URL('../../bin/llama-actors.mjs', import.meta.url));

let tinyPath: string;
let dataDir: string;
const children: Array<ChildProcessByStdio<null, Readable, Readable>> = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
  dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-shutdown-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts `serve` on a free port with node-llama-cpp's engine (slower per token than the native one, so a stream lasts) and a large context. */
async function startServe(name: string, extra: string[]) {
  const args = ['serve', '--model', tinyPath, '--data-dir', join(dataDir, name), '--port', '0', '--threads', '1', '--slots', '1',
    '--engine', 'node-llama-cpp', '--context-size', '8192', ...extra];
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LLAMA_ACTORS_LOG_LEVEL: 'info', LLAMA_ACTORS_MODEL: '' } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(({ code }) => reject(new Error(`serve exited ${code} before serving\n${stderr}`)));
  });
  return { child, url, port: Number(new URL(url).port), exited, stderr: () => stderr };
}

/** A streaming chat completion: resolves once the first chunk is in; `done` with the whole body and when it ended. */
function startStream(url: string, maxTokens: number, agent: Agent | false = false) {
  return new Promise<{ done: Promise<{ body: string; at: number; error?: Error }> }>((resolve, reject) => {
    const body = JSON.stringify({ model: 'tiny', stream: true, max_tokens: maxTokens, temperature: 0, messages: [{ role: 'user', content: 'tell me a long story' }] });
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      const done = new Promise<{ body: string; at: number; error?: Error }>((finish) => {
        response.on('end', () => finish({ body: text, at: Date.now() }));
        response.on('error', (error) => finish({ body: text, at: Date.now(), error }));
        response.on('aborted', () => finish({ body: text, at: Date.now(), error: new Error('aborted') }));
      });
      let started = false;
      response.on('data', (chunk: string) => {
        text += chunk;
        if (!started && text.includes('"content"')) {
          started = true;
          resolve({ done });
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the error code of a fresh TCP connection to `port` (`ECONNREFUSED`), or `connected`. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Polls until a new connection is refused; the time it took. */
async function untilRefused(port: number, within: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < within) {
    if ((await tryConnect(port)) === 'ECONNREFUSED') return Date.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`port ${port} still accepts connections ${within} ms after the signal`);
}

describe('serve shuts down gracefully on SIGTERM / SIGINT', () => {
  it('a stream in flight finishes within the grace period; new connections are refused at once, idle keep-alive ones closed at once; exit 0', async () => {
    const serve = await startServe('finish', ['--grace', '60']);
    // An idle keep-alive connection: one request answered, the socket kept open by the agent.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const streamAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const idleSocket = await new Promise<Socket>((resolve, reject) => {
      const req = request(`${serve.url}/health`, { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(req.socket as Socket));
      });
      req.on('error', reject);
      req.end();
    });
    const idleClosed = new Promise<number>((resolve) => idleSocket.once('close', () => resolve(Date.now())));
    // On a keep-alive connection too: it is closed as soon as its response ends, not at the keep-alive timeout.
    const stream = await startStream(serve.url, 2_000, streamAgent);
    const signalled = Date.now();
    serve.child.kill('SIGTERM');
    await untilRefused(serve.port, 2_000);
    expect(await idleClosed).toBeLessThan(signalled + 1_000);
    const finished = await stream.done;
    // The stream was still running when the signal came, and went on for its whole length.
    expect(finished.at - signalled).toBeGreaterThan(500);
    expect(finished.error).toBeUndefined();
    expect(finished.body).toContain('"finish_reason":"length"');
    expect(finished.body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const exit = await serve.exited;
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    // Not held up by the grace period (60 s) nor by the keep-alive timeout (5 s) once the stream is done.
    expect(exit.at - finished.at).toBeLessThan(3_000);
    expect(serve.stderr()).toContain('SIGTERM: shutting down');
    agent.destroy();
    streamAgent.destroy();
  });

  it('a stream longer than --grace 1 is cut at the end of it, and the process exits 0 soon after (SIGINT too)', async () => {
    const serve = await startServe('cut', ['--grace', '1']);
    const stream = await startStream(serve.url, 7_000);
    const signalled = Date.now();
    serve.child.kill('SIGINT');
    await untilRefused(serve.port, 2_000);
    const cut = await stream.done;
    expect(cut.body).not.toContain('"finish_reason":"length"');
    // Aborted by the router's dispose: the stream's last event says so.
    expect(cut.body).toContain('"code":"ACTOR_STOPPED"');
    // Cut at the grace period (1 s), not before (it was still running) and not much later.
    expect(cut.at - signalled).toBeGreaterThanOrEqual(900);
    expect(cut.at - signalled).toBeLessThan(4_000);
    const exit = await serve.exited;
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.at - signalled).toBeLessThan(1_000 + 5_000);
    expect(serve.stderr()).toContain('grace period over');
  });
});
