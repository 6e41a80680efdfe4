import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/entities/store/FileStore.js';
import { type ChatDocument, turnText } from './helpers/storeWriter.js';

const writerScript = fileURLToPath(new URL('./helpers/storeWriter.ts', import.meta.url));
// tsx's ESM loader by absolute URL, so the child does not depend on its working directory.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * Starts the writer on `dataDir`, SIGKILLs it the moment it reports `killAfter` turns done, and
 * resolves once it is dead and its stdout is drained, with the highest turn it ever reported.
 */
async function writeUntilKilled(dataDir: string, killAfter: number): Promise<{ lastReported: number; signal: string | null }> {
  const child = spawn(process.execPath, ['--import', tsxLoader, writerScript, dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const lines = createInterface({ input: child.stdout });
  const drained = new Promise<void>((resolve) => lines.once('close', resolve));
  let lastReported = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`writer exited by itself (code ${code}, signal ${signal}) after ${lastReported} turns: ${stderr}`)),
    );
    lines.on('line', (line) => {
      const match = /^done (\d+)$/.exec(line);
      if (!match) return reject(new Error(`unexpected writer output ${JSON.stringify(line)}`));
      // Lines may still arrive after the kill (one chunk can hold several): count them all.
      lastReported = Math.max(lastReported, Number(match[1]));
      if (lastReported === killAfter) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  const signal = await exited;
  await drained;
  return { lastReported, signal };
}

describe('FileStore survives SIGKILL at any instant', () => {
  it.each([5, 17, 30])(
    'killed after %i reported turns: the file parses and holds every reported turn, no temporary file remains',
    async (killAfter) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-crash-'));
      dirs.push(dataDir);
      const { lastReported, signal } = await writeUntilKilled(dataDir, killAfter);
      expect(signal).toBe('SIGKILL');
      expect(lastReported).toBeGreaterThanOrEqual(killAfter);

      await using store = new FileStore({ dataDir });
      const document = await store.get<ChatDocument>('sessions', 'chat'); // throws STORE_CORRUPT on a torn file
      expect(document).toBeDefined();
      const { n, turns } = document!;
      // No reported turn is lost; at most the one put in flight at the kill also landed (on Linux
      // a reported line is in the pipe before the next put starts, so none can go missing).
      expect(n).toBeGreaterThanOrEqual(lastReported);
      if (process.platform === 'linux') expect(n).toBeLessThanOrEqual(lastReported + 1);
      expect(turns).toHaveLength(n);
      expect(turns).toEqual(Array.from({ length: n }, (_, i) => turnText(i + 1)));

      // The new store's first call removed whatever temporary file the kill left behind.
      expect(await store.list('sessions')).toEqual(['chat']);
      expect(await readdir(join(dataDir, 'sessions'))).toEqual(['chat.json']);
    },
    15_000,
  );
});
