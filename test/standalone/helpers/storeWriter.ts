/**
 * Child process of the FileStore kill test: opens a FileStore on the directory given as the first
 * argument and, for n = 1, 2, 3, … forever, puts `{ turns: [turn 1 … turn n], n }` at
 * ('sessions', 'chat'), printing `done <n>` once each put has resolved. The parent SIGKILLs it at
 * some moment and then checks what is on disk.
 *
 * Run: `node --import tsx test/standalone/helpers/storeWriter.ts <dataDir>`
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../../../src/entities/store/FileStore.js';

/** Text of turn `n`: a few hundred characters, the same in the writer and the test that checks it. */
export function turnText(n: number): string {
  return `turn ${n}: ${'the quick brown fox jumps over the lazy dog; '.repeat(8)}${n}`;
}

/** The document the writer stores after turn `n`. */
export interface ChatDocument {
  turns: string[];
  n: number;
}

async function main(dataDir: string): Promise<never> {
  const store = new FileStore({ dataDir });
  const turns: string[] = [];
  for (let n = 1; ; n++) {
    turns.push(turnText(n));
    const document: ChatDocument = { turns, n };
    await store.put('sessions', 'chat', document);
    // stdout is a pipe, which Node writes synchronously on Linux: once this returns, the parent
    // will see the line even if we are killed on the next instruction.
    process.stdout.write(`done ${n}\n`);
  }
}

// Imported by the test for turnText; only a direct run writes.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dataDir = process.argv[2];
  if (!dataDir) {
    process.stderr.write('usage: storeWriter.ts <dataDir>\n');
    process.exit(2);
  }
  main(dataDir).catch((error: unknown) => {
    process.stderr.write(`storeWriter failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
