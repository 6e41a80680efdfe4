import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import type { SessionEntity } from '../../src/index.js';

const WORKER = fileURLToPath(new URL('./helpers/sessionWorker.ts', import.meta.url));

/** Runs the worker until it has reported `killAfter` more turns, lets it start the next, SIGKILLs it; returns the last reported turn. */
async function runAndKill(dataDir: string, modelPath: string, killAfter: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dataDir, modelPath], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => {}); // EPIPE: the last `next` may reach a process already killed
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let reported = 0;
  let seen = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const done = /^done (\d+)$/.exec(line);
    if (!done) throw new Error(`worker said: ${line}`);
    reported = Number(done[1]);
    child.stdin.write('next\n'); // the worker starts the next turn only on this
    if (++seen === killAfter) {
      child.kill('SIGKILL'); // mid-conversation: the next turn is already being generated
      break;
    }
  }
  await exited;
  if (seen < killAfter) throw new Error(`worker exited after ${seen} turns: ${stderr}`);
  return reported;
}

describe('durable sessions', () => {
  it('a process killed with SIGKILL mid-conversation loses no reported turn and leaves no corrupt file', async () => {
    const modelPath = await ensureTinyModel();
    const dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-kill-'));
    try {
      let lastReported = 0;
      for (const killAfter of [3, 7, 5]) {
        lastReported = await runAndKill(dataDir, modelPath, killAfter);
        const file = join(dataDir, 'sessions', 'kill-test.json');
        const session = JSON.parse(await readFile(file, 'utf8')) as SessionEntity; // parses: not corrupt
        const turns = session.turns.length / 2;
        expect(turns).toBeGreaterThanOrEqual(lastReported);
        expect(turns).toBeLessThanOrEqual(lastReported + 1); // at most the turn in flight, completed
        const users = session.turns.filter((t) => t.role === 'user').map((t) => t.content);
        expect(users).toEqual(Array.from({ length: turns }, (_, i) => `turn ${i + 1}`));
        expect(session.turns.map((t) => t.role)).toEqual(Array.from({ length: turns }, () => ['user', 'assistant']).flat());
      }
      // The next run reloaded the conversation and went on from where it was.
      expect(lastReported).toBeGreaterThanOrEqual(15);
      const leftovers = (await readdir(join(dataDir, 'sessions'))).filter((f) => !f.endsWith('.json'));
      expect(leftovers.length).toBeLessThanOrEqual(1); // at most the killed write's temporary file, cleaned on next open
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
