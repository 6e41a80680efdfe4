import { execFileSync } from 'node:child_process';
/**
 * Models in supervised host processes (`isolation: 'process'`), on the tiny model, for real: the
 * same answers as in process under the same address and protocol; backpressure across the process
 * boundary; a host SIGKILLed mid-stream fails its callers at once with ACTOR_HOST_LOST while another
 * model goes on serving, and comes back with its adapter set; no host outlives its router.
 */
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_PROMPT, ensureAbortOnLoadModel, ensureAbortOnTokenizeModel, ensureSegfaultOnDecodeModel } from '../../scripts/crashModels.js';
import { ensureTinyAdapters, ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  type GenerateRequest,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelActor,
  ModelManager,
  ModelMessage,
  modelProtocol,
  type ModelStatus,
  QueueFullError,
  type TokenStreamEvent,
} from '../../src/index.js';
import { ModelHostActor } from '../../src/actors/ModelHost/ModelHostActor.js';
import { getTestLlama } from './llama.js';

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

const LOAD = { slots: 2, threads: 1, contextSize: 512 } as const;

type ModelHostSettings = NonNullable<ConstructorParameters<typeof LocalLlamaProvider>[0]>['host'];

/** A router whose models (`ids`, all the tiny model) each run in a host process of their own. */
async function hosted(ids: string[], load: Record<string, unknown> = {}, paths: Record<string, string> = {}, host: ModelHostSettings = {}) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  const store = new MemoryStore();
  const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ isolation: 'process', host: { killGraceMs: 2_000, ...host } })] });
  cleanups.push(async () => {
    await router.dispose();
    await store.dispose();
  });
  await models.publishProvider({ id: 'local', kind: 'local-llama' });
  for (const id of ids) await models.publishModel({ id, provider: address('local'), path: paths[id] ?? tinyPath, load: { ...LOAD, ...load } });
  return { router, models };
}

const greedy = (prompt: string, maxTokens: number): GenerateRequest => ({ prompt, params: { maxTokens, temperature: 0 } });

const status = (router: MessageRouter, id: string) => router.ask<ModelStatus>(`model/${id}`, ModelMessage.Status, null);

/** Resolves true once `pid` is gone (signal 0 fails), polling every 20 ms, false after `ms`. */
async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** This process's model hosts that are still running. */
function hostPids(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'modelHostMain'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** Reads events until the terminal one. */
async function terminal<S>(iterator: AsyncIterator<TokenStreamEvent<S>>): Promise<TokenStreamEvent<S>> {
  for (;;) {
    const { value, done } = await iterator.next();
    if (done) throw new Error('stream ended without a terminal event');
    if (value.type === 'done' || value.type === 'error') return value;
  }
}

describe('a model in a host process', () => {
  it('answers as the same model in process does, and says which process serves it', async () => {
    const { router, models } = await hosted(['tiny']);
    const model = await models.ref('tiny');
    const result = await model.stream(ModelMessage.Generate, greedy('once upon a time', 24)).collectWithMetadata();
    const local = new MessageRouter({ logger: pino({ level: 'silent' }) });
    cleanups.push(() => local.dispose());
    const actor = new ModelActor({ modelPath: tinyPath, llama, ...LOAD });
    const inProcess = local.ref(local.registerActor('model/tiny', actor, actor.actorOptions), modelProtocol);
    const expected = await inProcess.stream(ModelMessage.Generate, greedy('once upon a time', 24)).collectWithMetadata();
    expect(result.text.length).toBeGreaterThan(0);
    expect([result.text, result.tokenCount, result.finishReason]).toEqual([expected.text, expected.tokenCount, expected.finishReason]);
    expect(await model.ask(ModelMessage.Tokenize, { text: 'hello world' })).toEqual(await inProcess.ask(ModelMessage.Tokenize, { text: 'hello world' }));
    const { host } = await status(router, 'tiny');
    expect(host).toMatchObject({ state: 'up', restarts: 0, loadProgress: 1 });
    expect(host?.pid).toBeGreaterThan(0);
    expect(host?.pid).not.toBe(process.pid);
    expect(host?.rssBytes).toBeGreaterThan(10 * 2 ** 20);
  });

  it('keeps error classes and codes, and backpressure, across the process boundary', async () => {
    const { router, models } = await hosted(['tiny'], { slots: 1, maxQueue: 1 });
    const model = await models.ref('tiny');
    await model.ask(ModelMessage.Info, null);
    // One event read of a long stream: the host's producer stops, held by the credit window.
    const slow = model.stream(ModelMessage.Generate, greedy('the', 400), { highWaterMark: 1 });
    const iterator = slow[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.type).toBe('token');
    const queued = model.ask(ModelMessage.Generate, greedy('a', 4));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const produced = (await status(router, 'tiny')).tokensGenerated;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await status(router, 'tiny')).tokensGenerated).toBe(produced);
    expect(produced).toBeLessThan(200);
    // Slot busy, the one queue place taken: the third is a QueueFullError here as in the host.
    const refused = await model.ask(ModelMessage.Generate, greedy('b', 4)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refused).toMatchObject({ code: 'QUEUE_FULL', kind: 'overloaded' });
    slow.cancel();
    expect((await queued).text.length).toBeGreaterThan(0);
  });

  it('a host SIGKILLed mid-stream: its callers get ACTOR_HOST_LOST at once, another model serves on, the host comes back', async () => {
    const { router, models } = await hosted(['a', 'b']);
    const [a, b] = [await models.ref('a'), await models.ref('b')];
    await Promise.all([a.ask(ModelMessage.Info, null), b.ask(ModelMessage.Info, null)]);
    // An adapter set changed at run time: the new host must come back with it.
    const { valid } = await ensureTinyAdapters();
    const applied = (await a.ask(ModelMessage.ApplyAdapter, { path: valid, scale: 0.5 })).applied;
    expect(applied).toEqual([{ path: valid, scale: 0.5 }]);
    const withAdapter = await a.ask(ModelMessage.Generate, greedy('adapted', 8));
    const pid = (await status(router, 'a')).host?.pid as number;
    const bPid = (await status(router, 'b')).host?.pid as number;
    const stream = a.stream(ModelMessage.Generate, greedy('the', 2_000), { highWaterMark: 1 });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.type).toBe('token');
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const end = await terminal(iterator);
    const lostAfterMs = performance.now() - killedAt;
    expect(end).toMatchObject({ type: 'error', code: 'ACTOR_HOST_LOST', kind: 'unavailable' });
    expect(end.error).toContain('SIGKILL');
    // Generous against a loaded machine; the figure is printed (the issue asks for under a second).
    expect(lostAfterMs).toBeLessThan(5_000);
    console.info(`ACTOR_HOST_LOST ${lostAfterMs.toFixed(0)} ms after the SIGKILL`);
    // The other model never noticed.
    expect((await b.stream(ModelMessage.Generate, greedy('b', 8)).collect()).length).toBeGreaterThan(0);
    // The next request waits for the restarted host and is answered.
    expect((await a.stream(ModelMessage.Generate, greedy('again', 8)).collect()).length).toBeGreaterThan(0);
    const after = (await status(router, 'a')).host;
    expect(after).toMatchObject({ state: 'up', restarts: 1, lastExit: 'killed by SIGKILL' });
    expect(after?.pid).not.toBe(pid);
    expect(await gone(pid)).toBe(true);
    expect((await a.ask(ModelMessage.ListAdapters, null)).applied).toEqual(applied);
    expect((await a.ask(ModelMessage.Generate, greedy('adapted', 8))).text).toBe(withAdapter.text);

    // A segfault is the same to the caller.
    const crashing = a.stream(ModelMessage.Generate, greedy('the', 2_000), { highWaterMark: 1 })[Symbol.asyncIterator]();
    expect((await crashing.next()).value?.type).toBe('token');
    process.kill(after?.pid as number, 'SIGSEGV');
    expect(await terminal(crashing)).toMatchObject({ type: 'error', code: 'ACTOR_HOST_LOST', error: expect.stringContaining('SIGSEGV') as string });
    expect((await a.stream(ModelMessage.Generate, greedy('again', 8)).collect()).length).toBeGreaterThan(0);
    expect((await status(router, 'a')).host).toMatchObject({ state: 'up', restarts: 2, lastExit: 'killed by SIGSEGV' });

    // An idle host that dies is replaced at once, before anyone asks (the host's loss fails the actor, supervision restarts it).
    const idle = (await status(router, 'a')).host?.pid as number;
    process.kill(idle, 'SIGKILL');
    const until = performance.now() + 30_000;
    const replacements = () => hostPids().filter((pid) => pid !== bPid && pid !== idle);
    while (performance.now() < until && replacements().length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replacements()).toHaveLength(1);
  });

  it('leaves no host behind: disposing the router stops every host', async () => {
    const { router, models } = await hosted(['a', 'b']);
    const pids: number[] = [];
    for (const id of ['a', 'b']) {
      await (await models.ref(id)).ask(ModelMessage.Info, null);
      pids.push((await status(router, id)).host?.pid as number);
    }
    expect(hostPids().sort()).toEqual([...pids].sort());
    await router.dispose();
    for (const pid of pids) expect(await gone(pid, 5_000)).toBe(true);
    expect(hostPids()).toEqual([]);
  });
});

describe('a host that stops answering', () => {
  it('is taken for dead after the heartbeat timeout: its callers get ACTOR_HOST_LOST, it is killed and replaced', async () => {
    const { router, models } = await hosted(['hung'], {}, {}, { heartbeatMs: 100, heartbeatTimeoutMs: 1_000, killGraceMs: 500 });
    const hung = await models.ref('hung');
    await hung.ask(ModelMessage.Info, null);
    const pid = (await status(router, 'hung')).host?.pid as number;
    const stream = hung.stream(ModelMessage.Generate, greedy('the', 2_000), { highWaterMark: 1 })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.type).toBe('token');
    // Frozen, not dead: no exit, no closed channel; only the missing heartbeats tell.
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = performance.now();
    const end = await terminal(stream);
    expect(end).toMatchObject({ type: 'error', code: 'ACTOR_HOST_LOST', error: expect.stringContaining('no heartbeat for 1000 ms') as string });
    expect(performance.now() - stoppedAt).toBeGreaterThanOrEqual(900);
    // The frozen process is killed (SIGTERM cannot reach it, SIGKILL after the grace does), a new host serves.
    expect(await gone(pid)).toBe(true);
    expect((await hung.stream(ModelMessage.Generate, greedy('again', 8)).collect()).length).toBeGreaterThan(0);
    expect((await status(router, 'hung')).host).toMatchObject({ state: 'up', restarts: 1, lastExit: 'killed by SIGKILL' });
  });
});

describe('a host that dies on every start', () => {
  it('is restarted with backoff, then given up: MODEL_HOST_CRASHED, status failed, no process left', async () => {
    const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
    cleanups.push(() => router.dispose());
    // The host's Node cannot start: it exits with code 1 before it answers, every time.
    const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require /nonexistent/llama-actors-crash.cjs` };
    const actor = new ModelHostActor({ model: { modelPath: tinyPath, ...LOAD }, env });
    const model = router.ref(router.registerActor('model/doomed', actor, actor.actorOptions), modelProtocol);
    const refused = await model.ask(ModelMessage.Info, null).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'MODEL_HOST_CRASHED', kind: 'internal' });
    expect((refused as Error).message).toMatch(/died 4 times within 60000 ms \(last: exited with code 1\)/);
    const failed = await model.ask(ModelMessage.Status, null);
    expect(failed).toMatchObject({ state: 'failed', host: { state: 'down', restarts: 3, lastExit: 'exited with code 1' } });
    // Given up for good: no more starts.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await model.ask(ModelMessage.Status, null)).host?.restarts).toBe(3);
    expect(hostPids()).toEqual([]);
  });
});

describe('real llama.cpp crashes (scripts/crashModels.ts)', () => {
  it('a request that aborts llama.cpp costs that request: ACTOR_HOST_LOST (SIGABRT), the host comes back, the other model never noticed', async () => {
    const { router, models } = await hosted(['fragile', 'steady'], {}, { fragile: await ensureAbortOnTokenizeModel() });
    const [fragile, steady] = [await models.ref('fragile'), await models.ref('steady')];
    await Promise.all([fragile.ask(ModelMessage.Info, null), steady.ask(ModelMessage.Info, null)]);
    const long = steady.stream(ModelMessage.Generate, greedy('the', 64), { highWaterMark: 1 })[Symbol.asyncIterator]();
    expect((await long.next()).value?.type).toBe('token');
    // A 4-byte character: llama.cpp's tokenizer throws std::out_of_range through node-llama-cpp, which aborts.
    const crashed = await fragile.ask(ModelMessage.Tokenize, { text: CRASH_PROMPT }).catch((error: unknown) => error);
    expect(crashed).toMatchObject({ code: 'ACTOR_HOST_LOST', kind: 'unavailable', message: expect.stringContaining('SIGABRT') as string });
    expect(await terminal(long)).toMatchObject({ type: 'done' });
    expect((await fragile.ask(ModelMessage.Tokenize, { text: 'the actor' })).tokens.length).toBeGreaterThan(0);
    expect((await status(router, 'fragile')).host).toMatchObject({ state: 'up', restarts: 1, lastExit: 'killed by SIGABRT' });
  });

  it('a segfault at the first decode: every generation fails typed, the host is restarted each time, reads still work', async () => {
    const { router, models } = await hosted(['broken'], {}, { broken: await ensureSegfaultOnDecodeModel() });
    const broken = await models.ref('broken');
    const end = await broken.stream(ModelMessage.Generate, greedy('the', 8)).collectWithMetadata().catch((error: unknown) => error);
    expect(end).toMatchObject({ code: 'ACTOR_HOST_LOST', message: expect.stringContaining('SIGSEGV') as string });
    expect((await broken.ask(ModelMessage.Tokenize, { text: 'the' })).tokens.length).toBeGreaterThan(0);
    expect((await status(router, 'broken')).host).toMatchObject({ state: 'up', restarts: 1, lastExit: 'killed by SIGSEGV' });
  });

  it('a model that aborts llama.cpp on every load is given up after the budget: MODEL_HOST_CRASHED, /health-style status failed', async () => {
    const { router, models } = await hosted(['doomed', 'steady'], {}, { doomed: await ensureAbortOnLoadModel() });
    const doomed = await models.ref('doomed');
    const refused = await doomed.ask(ModelMessage.Info, null).catch((error: unknown) => error);
    // The first callers see the host die under them; once given up, every request is MODEL_HOST_CRASHED.
    expect(['ACTOR_HOST_LOST', 'MODEL_HOST_CRASHED']).toContain((refused as { code?: string }).code);
    const until = performance.now() + 60_000;
    let last: unknown;
    while (performance.now() < until) {
      last = await doomed.ask(ModelMessage.Info, null).catch((error: unknown) => error);
      if ((last as { code?: string }).code === 'MODEL_HOST_CRASHED') break;
    }
    expect(last).toMatchObject({ code: 'MODEL_HOST_CRASHED', kind: 'internal' });
    expect((last as Error).message).toMatch(/died 4 times within 60000 ms \(last: killed by SIGABRT\)/);
    expect((await status(router, 'doomed')).host).toMatchObject({ state: 'down', restarts: 3 });
    expect(hostPids()).toEqual([]); // no host of doomed's is left; steady is not started yet
    const steady = await models.ref('steady');
    expect((await steady.stream(ModelMessage.Generate, greedy('the', 8)).collect()).length).toBeGreaterThan(0);
  });
});
