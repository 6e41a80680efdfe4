/**
 * A model whose load killed the process must not be loaded again on the next start, or a server
 * with a crashing model would crash on every restart. The crash is real: a child process starts a
 * model on a FileStore and is SIGKILLed while the load is under way.
 */
import { execFileSync, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { copyFile, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  EntityCollection,
  EntityErrorCode,
  FileStore,
  LocalLlamaProvider,
  MessageRouter,
  ModelErrorCode,
  type ModelLoadMarker,
  ModelManager,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

const WORKER = fileURLToPath(new URL('./helpers/modelLoadWorker.ts', import.meta.url));

let llama: Llama;
let tinyPath: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A data dir with a FIFO where the model file goes: a load of it blocks until someone writes. */
async function fifoSetup() {
  const dataDir = await mkdtemp(join(tmpdir(), 'llama-actors-load-crash-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const modelPath = join(dataDir, 'model.gguf');
  execFileSync('mkfifo', [modelPath]);
  return { dataDir, modelPath };
}

/** A ModelManager on `dataDir`, in this process, with the test's shared Llama. */
function manager(dataDir: string) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  const store = new FileStore({ dataDir });
  cleanups.push(async () => {
    await router.dispose();
    await store.dispose();
  });
  return { router, store, models: new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] }) };
}

/** Runs the worker until it says the load is under way, SIGKILLs it, and returns its pid. */
async function crashWhileLoading(dataDir: string, modelPath: string): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dataDir, modelPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: child.stdout })) {
    if (line !== 'loading') throw new Error(`worker said: ${line}`);
    child.kill('SIGKILL');
    break;
  }
  const signal = await exited;
  if (signal !== 'SIGKILL') throw new Error(`worker exited before it was killed: ${stderr}`);
  return child.pid as number;
}

const marker = (store: FileStore, id: string) => store.get<ModelLoadMarker>(EntityCollection.ModelLoads, id);

describe('a model load that crashes the process', () => {
  it('is refused with MODEL_LOAD_CRASHED by the next process while the file is the same, until the model is published again', async () => {
    const { dataDir, modelPath } = await fifoSetup();
    const pid = await crashWhileLoading(dataDir, modelPath);

    const { router, store, models } = manager(dataDir);
    expect(await marker(store, 'model')).toMatchObject({ model: 'model', pid });
    const refused = await models.ensureStarted('model').then(() => new Error('started'), (error: unknown) => error as Error);
    expect(refused).toMatchObject({ code: EntityErrorCode.ModelLoadCrashed });
    expect(refused.message).toMatch(
      new RegExp(`^model @\\(model\\) crashed the process while loading at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(pid ${pid}\\); replace the file or publish the model again to retry$`),
    );
    await expect(models.invokeModel('model', { message: 'hi' })).rejects.toMatchObject({ code: EntityErrorCode.ModelLoadCrashed });
    expect(router.has('model/model')).toBe(false);
    // Publishing again is the user saying "try again": the record goes.
    await models.publishModel(await models.getModel('model'));
    expect(await marker(store, 'model')).toBeUndefined();
  });

  it('a crash is not held against a file that has changed since: the fixed model loads', async () => {
    const { dataDir, modelPath } = await fifoSetup();
    const pid = await crashWhileLoading(dataDir, modelPath);
    await rm(modelPath);
    await copyFile(tinyPath, modelPath); // the file is replaced: another size and modification time

    const { store, models } = manager(dataDir);
    expect(await marker(store, 'model')).toMatchObject({ model: 'model', pid });
    const { text, usage } = await models.invokeModel('model', { message: 'hi', params: { maxTokens: 3, temperature: 0 } });
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completionTokens).toBe(3);
    // loadSettled: the marker is gone by then, so a process killed from here on is no load crash.
    await models.loadSettled('model');
    expect(await marker(store, 'model')).toBeUndefined();
  });

  it('is recorded while it runs and cleared when it fails with a typed error: that is no crash', async () => {
    const { dataDir, modelPath } = await fifoSetup();
    const { store, models } = manager(dataDir);
    // Should an expectation fail while the load waits on the FIFO, open it for writing so the
    // load ends and the router can be disposed (this runs before the disposal).
    cleanups.push(() => open(modelPath, constants.O_WRONLY | constants.O_NONBLOCK).then((w) => w.close(), () => undefined));
    await models.publishProvider({ id: 'local', kind: 'local-llama' });
    await models.publishModel({ id: 'slow', provider: address('local'), path: modelPath });
    await models.ensureStarted('slow');
    expect(await marker(store, 'slow')).toMatchObject({ model: 'slow', pid: process.pid });

    const writer = await open(modelPath, 'w'); // unblocks the load, which finds no model
    await writer.write('not a model');
    await writer.close();
    await expect(models.invokeModel('slow', { message: 'hi' })).rejects.toMatchObject({ code: ModelErrorCode.InvalidModelFile });
    await vi.waitFor(async () => expect(await marker(store, 'slow')).toBeUndefined());

    // The next start (as after a restart) is not refused.
    await models.stopModel('slow');
    await rm(modelPath);
    await copyFile(tinyPath, modelPath);
    const { text } = await models.invokeModel('slow', { message: 'hi', params: { maxTokens: 2, temperature: 0 } });
    expect(text.length).toBeGreaterThan(0);
  });
});
