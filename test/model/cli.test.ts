/**
 * The `llama-actors` command as a user runs it: a child process of bin/llama-actors.mjs (tsx on the
 * TypeScript sources, or dist/ when built), driven through its stdio and signals. Waits are on the
 * child's output, never on timers.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';

const BIN = fileURLToPath(new URL('../../bin/llama-actors.mjs', import.meta.url));

/** A running CLI: its output so far, and waits for output or for its exit. */
/** Whether process `pid` runs (signal 0 succeeds). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

class Cli {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout = '';
  stderr = '';
  private cursor = 0;
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LLAMA_ACTORS_LOG_LEVEL: 'info', LLAMA_ACTORS_MODEL: '' },
    });
    this.child.stdout.setEncoding('utf8').on('data', (text: string) => {
      this.stdout += text;
      for (const wake of this.waiters) wake();
    });
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      for (const wake of this.waiters) wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        resolve({ code, signal });
        for (const wake of this.waiters) wake();
      });
    });
  }

  /** Resolves with the first match of `pattern` in stdout after the previous match; rejects if the process exits first. */
  until(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stdout.slice(this.cursor));
        if (match) {
          this.waiters.delete(check);
          this.cursor += match.index + match[0].length;
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

  /** Resolves once stderr (all of it so far) matches `pattern`; rejects if the process exits first. */
  untilStderr(pattern: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pattern.test(this.stderr)) {
          this.waiters.delete(check);
          resolve();
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          this.waiters.delete(check);
          reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${pattern} on stderr\nstderr:\n${this.stderr}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }
}

/** Runs the CLI to completion. */
async function runCli(args: string[]) {
  const cli = new Cli(args);
  cli.child.stdin.end();
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout, stderr: cli.stderr };
}

let tinyPath: string;
let dataDir: string;
const running: Cli[] = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
  dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-cli-'));
});

afterAll(async () => {
  for (const cli of running) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('llama-actors CLI', () => {
  it('--help prints the usage and exits 0; each command has its own', async () => {
    const [top, serve] = await Promise.all([runCli(['--help']), runCli(['serve', '--help'])]);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: llama-actors <command>/);
    expect(top.stdout).toMatch(/serve .*\n.*chat .*\n.*train .*\n.*demo .*\n.*bench /);
    expect(serve.code).toBe(0);
    expect(serve.stdout).toContain('Usage: llama-actors serve');
    expect(serve.stdout).toContain('--api-key-file F');
    expect(serve.stdout).toContain('--allowed-host H');
  });

  it('an unknown flag, a bad value or an unknown command exits 2 with a message', async () => {
    const [unknown, badValue, command, publicHost, keyInArgs] = await Promise.all([
      runCli(['serve', '--no-such-flag']),
      runCli(['chat', '--max-tokens', 'many']),
      runCli(['serverr']),
      runCli(['serve', '--host', '0.0.0.0']),
      runCli(['serve', '--api-key', 'visible-in-ps']),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--no-such-flag'");
    expect(unknown.stderr).toContain("Run 'llama-actors serve --help' for usage.");
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain("--max-tokens must be an integer from 1 up, got 'many'");
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'serverr'");
    expect(publicHost.code).toBe(2);
    expect(publicHost.stderr).toContain('is not a loopback address: set LLAMA_ACTORS_API_KEY or pass --api-key-file FILE');
    // A key on the command line is readable by every user with ps: refused, pointing to the safe ways.
    expect(keyInArgs.code).toBe(2);
    expect(keyInArgs.stderr).toContain('--api-key would show the key to every user in ps');
  });

  it('serve takes its key from --api-key-file and answers only the allowed Host names', async () => {
    const keyFile = join(dataDir, 'key.txt');
    await writeFile(keyFile, 'from-a-file\n');
    const cli = new Cli(['serve', '--model', tinyPath, '--data-dir', join(dataDir, 'keyed'), '--port', '0', '--threads', '1',
      '--api-key-file', keyFile, '--allowed-host', 'llm.internal']);
    running.push(cli);
    const [, url] = await cli.until(/serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/);
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer from-a-file' } })).status).toBe(200);
    const withHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        request(`${url}/health`, { headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await withHost('llm.internal')).toBe(200);
    expect(await withHost('evil.example')).toBe(403);
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('serve refuses a model whose load killed the last process, and says how to retry', async () => {
    const dir = join(dataDir, 'crashed');
    const args = ['serve', '--model', tinyPath, '--data-dir', dir, '--port', '0', '--threads', '1'];
    const first = new Cli(args);
    running.push(first);
    await first.until(/serving model "tiny"/);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    // What a process that died mid-load leaves behind (its own test: modelLoadCrash.test.ts).
    const file = await stat(tinyPath);
    const marker = join(dir, 'model-loads', 'tiny.json');
    await mkdir(dirname(marker), { recursive: true });
    await writeFile(marker, JSON.stringify({ model: 'tiny', pid: 4242, process: 'earlier', attempt: 'a', startedAt: 0, file: { size: file.size, mtimeMs: file.mtimeMs } }));
    const refused = await runCli(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('model @(tiny) crashed the process while loading at 1970-01-01T00:00:00.000Z (pid 4242)');
    expect(refused.stderr).toContain(`delete ${marker} to try anyway`);
  });

  it('serve --port 0 answers /health and a chat completion, then exits 0 on SIGTERM', async () => {
    const cli = new Cli(['serve', '--model', tinyPath, '--data-dir', join(dataDir, 'serve'), '--port', '0', '--threads', '1', '--slots', '2']);
    running.push(cli);
    const [, url] = await cli.until(/serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    // serve runs the model in a host process by default: /health says it is up, and which one.
    const healthBody = (await health.json()) as { models: Array<{ host: { pid: number } }> };
    expect(healthBody).toEqual({ status: 'ok', models: [{ id: 'tiny', state: 'ready', host: { state: 'up', pid: expect.any(Number), restarts: 0 } }] });
    const hostPid = healthBody.models[0]?.host.pid as number;
    expect(hostPid).not.toBe(cli.child.pid);
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 6, temperature: 0 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: Array<{ message: { content: string }; finish_reason: string }>; usage: { completion_tokens: number } };
    expect(body.choices[0]?.finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(6);
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(alive(hostPid)).toBe(false);
    expect(cli.stderr).toContain('loaded tiny in');
    expect(cli.stderr).toContain('SIGTERM: shutting down');
    // Logs on stderr are JSON lines when it is not a terminal.
    const logs = cli.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string });
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['model loaded', 'serving', 'server closed']));
  });

  it('serve SIGKILLed: its model host exits by itself, no orphan holds the model', async () => {
    const cli = new Cli(['serve', '--model', tinyPath, '--data-dir', join(dataDir, 'serve-killed'), '--port', '0', '--threads', '1', '--slots', '2']);
    running.push(cli);
    const [, url] = await cli.until(/serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/);
    const health = (await (await fetch(`${url}/health`)).json()) as { models: Array<{ host: { pid: number } }> };
    const hostPid = health.models[0]?.host.pid as number;
    expect(alive(hostPid)).toBe(true);
    cli.child.kill('SIGKILL');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const until = performance.now() + 10_000;
    while (alive(hostPid) && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(hostPid)).toBe(false);
  });

  it('serve --isolation in-process runs the model in its own process; a bad --isolation is a usage error', async () => {
    const cli = new Cli(['serve', '--model', tinyPath, '--data-dir', join(dataDir, 'serve-in-process'), '--port', '0', '--threads', '1', '--isolation', 'in-process']);
    running.push(cli);
    const [, url] = await cli.until(/serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/);
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok', models: [{ id: 'tiny', state: 'ready' }] });
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const bad = new Cli(['serve', '--model', tinyPath, '--isolation', 'thread']);
    running.push(bad);
    expect(await bad.exited).toEqual({ code: 2, signal: null });
    expect(bad.stderr).toContain("--isolation must be one of process, in-process, got 'thread'");
  });

  it('chat streams a reply from stdin, keeps it in the session (/history), and quits on /exit', async () => {
    const args = ['chat', '--model', tinyPath, '--data-dir', join(dataDir, 'chat'), '--session', 'cli-test', '--threads', '1', '--max-tokens', '8', '--temperature', '0'];
    const cli = new Cli(args);
    running.push(cli);
    await cli.until(/chat on session "cli-test" with tiny/);
    await cli.until(/you> /);
    cli.send('hello there');
    const [, reply] = await cli.until(/assistant> (.+)\n\(8 tokens, [\d.]+ tokens\/s, length\)\n/);
    cli.send('/history');
    await cli.until(/user: hello there\nassistant: /);
    cli.send('/exit');
    expect(await cli.exited).toEqual({ code: 0, signal: null });

    // A second run continues the stored session.
    const again = new Cli(args);
    running.push(again);
    await again.until(/with tiny \(2 turns so far\)/);
    again.send('/history');
    const [, stored] = await again.until(/user: hello there\nassistant: (.*)\n/);
    expect(stored).toBe(reply);
    again.child.stdin.end(); // Ctrl-D
    expect(await again.exited).toEqual({ code: 0, signal: null });
  });
});

describe('llama-actors train', () => {
  const conversations = ['actors', 'models', 'tokens', 'sessions', 'streams', 'adapters', 'routers', 'contexts', 'slots', 'messages', 'queues', 'batches']
    .flatMap((topic) => [0, 1].map((round) => ({
      id: `${topic}-${round}`,
      messages: [
        { role: 'user', content: `What are ${topic}?` },
        { role: 'assistant', content: `The ${topic} are part of the actor model, and the model streams tokens to the session.` },
      ],
    })))
    .map((conversation) => JSON.stringify(conversation))
    .join('\n');

  it('trains on a JSON-lines file, prints progress and the trained model and adapter paths', async () => {
    const data = join(dataDir, 'chats.jsonl');
    await writeFile(data, conversations);
    const out = join(dataDir, 'trained');
    const result = await runCli(['train', '--data', data, '--model', tinyPath, '--epochs', '3', '--learning-rate', '0.002', '--threads', '1', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/epoch 3\/3 step \d+\/\d+: train loss [\d.]+, validation loss [\d.]+, \d+ tokens\/s, ETA \d+ s/);
    const [, modelPath] = /trained model +(\S+)/.exec(result.stdout) ?? [];
    const [, adapterPath] = /LoRA adapter +(\S+) \(rank 8, keeps [\d.]+ % of the weight change\)/.exec(result.stdout) ?? [];
    expect(modelPath?.startsWith(out)).toBe(true);
    expect(existsSync(modelPath as string)).toBe(true);
    expect(existsSync(adapterPath as string)).toBe(true);
    const [, before, after] = /validation loss ([\d.]+) → ([\d.]+) nats per token/.exec(result.stdout) ?? [];
    expect(Number(after)).toBeLessThan(Number(before));
  });

  it('Ctrl-C stops training at once and leaves nothing partial; bad data exits 1 naming the line or example', async () => {
    const data = join(dataDir, 'chats-stop.jsonl');
    await writeFile(data, conversations);
    const out = join(dataDir, 'stopped');
    const cli = new Cli(['train', '--data', data, '--model', tinyPath, '--epochs', '1000', '--threads', '1', '--out', out]);
    running.push(cli);
    await cli.untilStderr(/epoch 1\/1000 step/);
    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toContain('training stopped; no model was written');
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);

    const bad = join(dataDir, 'bad.jsonl');
    await writeFile(bad, `${JSON.stringify({ id: 'ok', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] })}\n{not json\n`);
    const badJson = await runCli(['train', '--data', bad, '--model', tinyPath]);
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('line 2: not valid JSON');
    await writeFile(bad, JSON.stringify([{ id: 'x', messages: [{ role: 'bot', content: 'hi' }] }]));
    const badRole = await runCli(['train', '--data', bad, '--model', tinyPath]);
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toContain('INVALID_TRAINING_DATA: conversation 0 ("x"): message 0 has role "bot"');
    const missing = await runCli(['train', '--model', tinyPath]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--data FILE is required');
  });
});
