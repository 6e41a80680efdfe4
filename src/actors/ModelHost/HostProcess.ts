import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { forkPackageModule } from '../forkPackageModule.js';
import { HOST_CONFIG_ENV, type ModelHostConfig } from './types.js';

/** How a host process ended: `exited with code 1`, `killed by SIGSEGV`. */
export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** @internal `exited with code 1` / `killed by SIGKILL`. */
export function describeExit(exit: HostExit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
}

/**
 * @internal One model host: the forked `modelHostMain` process, its IPC channel (the transport's),
 * its stderr forwarded line by line to the parent's logger, and its end. Killed with SIGKILL if this
 * process exits first; the host also exits on its own when its IPC channel closes, so neither a
 * crash nor a SIGKILL of this process leaves it behind.
 */
export class HostProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has ended, however it ended. */
  readonly exited: Promise<HostExit>;
  private exit: HostExit | undefined;
  /** Set by {@link stop}: the process was told to end (its exit is no crash). */
  stopRequested = false;
  private readonly killOnExit = (): void => void this.child.kill('SIGKILL');

  constructor(config: ModelHostConfig, options: { env?: NodeJS.ProcessEnv; logger: Logger }) {
    const env = { ...(options.env ?? process.env), [HOST_CONFIG_ENV]: JSON.stringify(config) };
    this.child = forkPackageModule(import.meta.url, 'modelHostMain', { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
    process.on('exit', this.killOnExit);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // A spawn failure (no such executable, out of memory) has no exit event of its own.
      this.child.once('error', (error) => {
        options.logger.error({ err: error }, 'model host could not be spawned');
        if (this.exit === undefined && this.child.exitCode === null && this.child.pid === undefined) {
          process.off('exit', this.killOnExit);
          this.exit = { code: null, signal: null };
          resolve(this.exit);
        }
      });
    });
    forwardLogLines(this.child, options.logger);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How it ended, once it has. */
  get ended(): HostExit | undefined {
    return this.exit;
  }

  /**
   * Stops the host: SIGTERM (it frees its model and exits), then SIGKILL after `graceMs`. Resolves
   * once it has exited. Idempotent.
   */
  async stop(graceMs: number): Promise<HostExit> {
    this.stopRequested = true;
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    timer.unref();
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The host's stderr: its pino JSON lines are logged through the parent's logger at their level
 * (with the host's fields), anything else (llama.cpp's own prints, an abort message) as a warning,
 * so that a crash's last words reach the parent's log.
 */
function forwardLogLines(child: ChildProcess, logger: Logger): void {
  if (!child.stderr) return;
  const lines = createInterface({ input: child.stderr });
  lines.on('line', (line) => {
    const record = parseLogLine(line);
    if (!record) {
      if (line.trim() !== '') logger.warn({ host: child.pid, stderr: line.slice(0, 2_000) }, 'model host stderr');
      return;
    }
    const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = record;
    const method = typeof level === 'number' ? pinoMethod(level) : 'info';
    logger[method]({ ...fields, host: child.pid }, typeof msg === 'string' ? msg : 'model host');
  });
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && 'level' in value ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function pinoMethod(level: number): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' {
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  return level >= 20 ? 'debug' : 'trace';
}
