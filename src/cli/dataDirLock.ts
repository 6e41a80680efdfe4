import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DataDirLockedError } from '../entities/entityErrors.js';

/** The lock file's name inside a data directory (a dot file: no store collection can be named so). */
export const LOCK_FILE = '.lock';

/** A held data-directory lock. */
export interface DataDirLock {
  readonly dataDir: string;
  readonly file: string;
  /** Removes the lock file if it is still this process's. Idempotent. */
  release(): Promise<void>;
}

/** Lock files this process holds: a second lock of one of them in this process is refused too. */
const held = new Set<string>();

/** What the lock file holds. */
interface LockContent {
  pid: number;
  command: string;
  startedAt: string;
}

/** Whether a process with that pid is alive (`EPERM`: alive, another user's). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a lock file's text, or undefined when the text is not a lock (then the lock is stale). */
function lockPid(text: string): number | undefined {
  try {
    const pid = (JSON.parse(text) as Partial<LockContent>).pid;
    return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the data directory for this process: one process per data directory, since two would
 * overwrite each other's models and sessions (and one's failed model would show in the other's
 * `/v1/models`). Creates `<dataDir>/.lock` with `wx`, holding this pid; a lock whose pid is dead
 * (a process killed without cleaning up) is taken over; a live one is {@link DataDirLockedError}
 * naming the directory and the pid. Released by `release()`, or at exit.
 */
export async function lockDataDir(dataDir: string, command: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (held.has(file)) throw new DataDirLockedError(dir, process.pid, file);
  await mkdir(dir, { recursive: true });
  const content: LockContent = { pid: process.pid, command, startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(content)}\n`;
  for (let attempt = 0; ; attempt += 1) {
    try {
      await writeFile(file, text, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
    }
    const held = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined; // released meanwhile: try again
      throw error;
    });
    if (held === undefined) continue;
    const pid = lockPid(held);
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new DataDirLockedError(dir, pid, file);
    // Stale: its process is gone (or the file is not a lock, or names this pid, which holds no
    // lock on it: a container's process reusing a dead one's pid). Take it over.
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
  const ours = async (): Promise<boolean> => lockPid(await readFile(file, 'utf8').catch(() => '')) === process.pid;
  const onExit = (): void => {
    try {
      if (lockPid(readFileSync(file, 'utf8')) === process.pid) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  held.add(file);
  process.once('exit', onExit);
  let released: Promise<void> | undefined;
  return {
    dataDir: dir,
    file,
    release: () => {
      released ??= (async () => {
        process.removeListener('exit', onExit);
        try {
          if (await ours()) await unlink(file).catch(() => {});
        } finally {
          held.delete(file);
        }
      })();
      return released;
    },
  };
}
