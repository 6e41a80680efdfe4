/**
 * The CLI's data directory and port, as a user runs the command (child processes of
 * bin/llama-actors.mjs): one process per data directory (a lock file with its pid; a dead
 * process's lock is taken over), and `serve` binds its port before it loads a model.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { DataDirLockedError } from '../../src/index.js';
import { lockDataDir } from '../../src/cli/dataDirLock.js';

const BIN = fileURLToPath(new URL('../../bin/llama-actors.mjs', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** A running CLI: its output so far, a wait for a line on stdout, and its exit. */
class Cli {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout = '';
  stderr = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LLAMA_ACTORS_LOG_LEVEL: 'info', LLAMA_ACTORS_MODEL: '' },
    });
    const wake = () => {
      for (const waiter of this.waiters) waiter();
    };
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      wake();
    });
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        resolve({ code, signal });
        wake();
      });
    });
  }

  /** The first match of `pattern` in stdout; rejects if the process exits first. */
  until(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stdout);
        if (match) {
          this.waiters.delete(check);
          resolve(match);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          this.waiters.delete(check);
          reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${pattern}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }
}

/** Runs the CLI to completion with stdin closed (a chat quits as on Ctrl-D). */
async function runCli(args: string[]) {
  const cli = new Cli(args);
  cli.child.stdin.end();
  const started = performance.now();
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout, stderr: cli.stderr, ms: performance.now() - started };
}

let tinyPath: string;
let root: string;
const running: Cli[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
  root = await mkdtemp(join(tmpdir(), 'llama-actors-datadir-'));
});

afterAll(async () => {
  for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  for (const server of servers) server.close();
  await rm(root, { recursive: true, force: true });
});

const serveArgs = (dir: string, port = '0') => ['serve', '--model', tinyPath, '--data-dir', dir, '--port', port, '--threads', '1'];

/** What the lock file names. */
const lockPid = async (dir: string) => (JSON.parse(await readFile(join(dir, '.lock'), 'utf8')) as { pid: number }).pid;

describe('serve binds its port first', () => {
  it('a port in use exits 1 at once, naming the port, before any model is loaded', async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const dir = join(root, 'busy');
    const result = await runCli(serveArgs(dir, String(port)));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not listen on 127.0.0.1:${port}`);
    expect(result.stderr).toContain('EADDRINUSE');
    // Nothing was loaded: no model actor started, no "loaded" line, no banner.
    expect(result.stderr).not.toContain('starting model actor');
    expect(result.stderr).not.toContain('model loaded');
    expect(result.stderr).not.toMatch(/loaded tiny in/);
    expect(result.stdout).not.toContain('serving model');
    // And the data directory is free again.
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });
});

describe('one process per data directory', () => {
  it('a second serve or chat on a directory in use exits 1 naming the directory and the pid; the server is untouched', async () => {
    const dir = join(root, 'shared');
    const server = new Cli(serveArgs(dir));
    running.push(server);
    const [, url] = await server.until(/serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/);
    const pid = server.child.pid as number;
    expect(await lockPid(dir)).toBe(pid);

    const [chat, secondServe] = await Promise.all([
      runCli(['chat', '--model', README, '--data-dir', dir, '--threads', '1']),
      runCli(serveArgs(dir)),
    ]);
    for (const refused of [chat, secondServe]) {
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`DATA_DIR_LOCKED: data directory ${dir} is in use by process ${pid}`);
      expect(refused.stderr).not.toContain('    at '); // one line, no stack
    }
    // The failed chat left no README model in the running server, which is still healthy.
    const listed = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(listed.data.map((m) => m.id)).toEqual(['tiny']);
    const health = await fetch(`${url}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok', models: [{ id: 'tiny', state: 'ready', host: { state: 'up', pid: expect.any(Number), restarts: 0 } }] }]);
    expect(await lockPid(dir)).toBe(pid);

    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('the lock of a dead process is taken over', async () => {
    const dir = join(root, 'stale');
    // A process that has exited: its pid is free. (Killing a serve right after its banner could
    // also leave its model-load marker behind, which is another refusal: modelLoadCrash.test.ts.)
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: dead.pid, command: 'serve', startedAt: new Date(0).toISOString() }));

    const next = new Cli(serveArgs(dir));
    running.push(next);
    await next.until(/serving model "tiny"/);
    expect(await lockPid(dir)).toBe(next.child.pid);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('a chat whose model fails to load exits 1 and leaves no model behind', async () => {
    const dir = join(root, 'failed');
    const result = await runCli(['chat', '--model', README, '--data-dir', dir, '--threads', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`could not load ${README}`);
    expect(existsSync(join(dir, 'models', 'README.md.json'))).toBe(false);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('in one process: a second lock of a held directory is the typed error; released, it can be taken again', async () => {
    const dir = join(root, 'in-process');
    const lock = await lockDataDir(dir, 'test');
    const second = lockDataDir(dir, 'test');
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED', kind: 'conflict', pid: process.pid, dataDir: dir });
    await lock.release();
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    const again = await lockDataDir(dir, 'test');
    await again.release();
  });
});
