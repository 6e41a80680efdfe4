/**
 * A `llama-actors` command as a separate process (bin/llama-actors.mjs: tsx on the sources): its
 * output so far, waits for a line on stdout, and its exit. For the cluster tests, which run several.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/llama-actors.mjs', import.meta.url));

export class CliProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  stdout = '';
  stderr = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LLAMA_ACTORS_LOG_LEVEL: 'warn', LLAMA_ACTORS_MODEL: '', ...env },
    });
    const wake = (): void => {
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

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first match of `pattern` on stdout; rejects when the process exits first or after `timeoutMs`. */
  until(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-4_000)}`));
      }, timeoutMs);
      const check = (): void => {
        const match = pattern.exec(this.stdout);
        if (match || !this.running) {
          this.waiters.delete(check);
          clearTimeout(timer);
          if (match) resolve(match);
          else reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${pattern}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-4_000)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves on exit. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
