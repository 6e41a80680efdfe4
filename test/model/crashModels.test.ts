/**
 * Real native crashes, for the supervision of models in child processes to be tested against:
 * each file of scripts/crashModels.ts is loaded in a forked child (helpers/crashWorker.ts: a
 * ModelActor on a MessageRouter, then tokenize and generate), and the child must die by the
 * signal the file is documented to raise, in the step it is documented to die in, printing the
 * llama.cpp assertion, with no JS error before it; twice, the same way each time. The good tiny
 * model goes through the same child and survives every step, and this process (the parent) still
 * generates afterwards. Pointed at the good model instead, every crash test fails.
 *
 * The children start two at a time on two cores (each is about 2.5 s, mostly node-llama-cpp's
 * import and its binary test), about 20 s for the eleven.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { CRASH_MODELS, CRASH_PROMPT, type CrashModelName, type CrashStep, ensureCrashModels } from '../../scripts/crashModels.js';
import { ModelActor } from '../../src/actors/ModelActor/ModelActor.js';
import { type GenerateResult, ModelMessage } from '../../src/actors/ModelActor/types.js';
import { MessageRouter } from '../../src/messaging/MessageRouter.js';
import type { CrashWorkerMessage } from './helpers/crashWorker.js';
import { getTestLlama } from './llama.js';

/** The child: crashWorker.ts, started by a plain-JS entry that registers tsx's loader itself (see there why). */
const WORKER = fileURLToPath(new URL('./helpers/crashWorkerBoot.mjs', import.meta.url));
const STEPS: readonly CrashStep[] = ['load', 'tokenize', 'generate'];
/** A child that neither crashes nor finishes by then is killed (and the test fails on SIGKILL). */
const CHILD_TIMEOUT_MS = 60_000;
/** Children at once: they are CPU-bound while they start (tsx, node-llama-cpp's import and binary test, the load). */
const CONCURRENCY = Math.max(2, availableParallelism());

/** How a child ended. */
interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The steps it started, and those it finished. */
  readonly started: CrashStep[];
  readonly finished: CrashStep[];
  /** A JS error a step failed with (a typed error, which is no crash). */
  readonly error: string | undefined;
  readonly stderr: string;
}

/** The children's working directory: where a core dump lands, if the machine writes them. */
let childDir: string;

/** Forks the worker on `modelPath` and waits for it to end, however it ends. */
function runChild(modelPath: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [modelPath, CRASH_PROMPT], {
      cwd: childDir,
      execArgv: [],
      // No gdb backtrace on abort: faster, and stderr is just the assertion.
      env: { ...process.env, GGML_NO_BACKTRACE: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const started: CrashStep[] = [];
    const finished: CrashStep[] = [];
    let error: string | undefined;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('message', (message: CrashWorkerMessage) => {
      if ('error' in message) error = `${message.code}: ${message.error}`;
      else if ('done' in message) finished.push(message.done);
      else started.push(message.step);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.once('error', reject);
    // 'close', not 'exit': stderr and the IPC channel are drained by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, started, finished, error, stderr });
    });
  });
}

/** Runs `jobs` with at most `limit` at once. */
function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Array<Promise<T>> {
  let running = 0;
  const queue: Array<() => void> = [];
  return jobs.map(
    (job) =>
      new Promise<T>((resolve, reject) => {
        const start = () => {
          running++;
          job()
            .then(resolve, reject)
            .finally(() => {
              running--;
              queue.shift()?.();
            });
        };
        if (running < limit) start();
        else queue.push(start);
      }),
  );
}

/** The line of stderr that says what killed the process, or a note that it said nothing. */
function faultLine(stderr: string): string {
  return stderr.split('\n').find((line) => /GGML_ASSERT|GGML_ABORT|unsupported types|terminate called/.test(line))?.trim() ?? '(nothing on stderr)';
}

let tinyPath: string;
/** Two runs of every crashing file, and one of the good model, started together in beforeAll. */
const runs = new Map<CrashModelName, Promise<[Outcome, Outcome]>>();
let goodRun: Promise<Outcome>;
let startedAt: number;

beforeAll(async () => {
  childDir = await mkdtemp(join(tmpdir(), 'llama-actors-crash-'));
  const [tiny, paths] = await Promise.all([ensureTinyModel(), ensureCrashModels()]);
  tinyPath = tiny;
  startedAt = performance.now();
  const jobs = [() => runChild(tinyPath), ...CRASH_MODELS.flatMap((model) => [() => runChild(paths[model.name]), () => runChild(paths[model.name])])];
  const [good, ...crashes] = pool(jobs, CONCURRENCY);
  goodRun = good!;
  CRASH_MODELS.forEach((model, i) => runs.set(model.name, Promise.all([crashes[2 * i]!, crashes[2 * i + 1]!])));
  // Nothing may stay unhandled while the tests await them one by one.
  for (const run of [goodRun, ...runs.values()]) run.catch(() => undefined);
});

afterAll(async () => {
  await Promise.allSettled([goodRun, ...runs.values()]);
  await rm(childDir, { recursive: true, force: true });
});

describe('the worker on the good tiny model', () => {
  it('loads, tokenizes the prompt and generates, and exits 0: the crashes below are the files', async () => {
    const outcome = await goodRun;
    expect(outcome).toMatchObject({ code: 0, signal: null, error: undefined, started: STEPS, finished: STEPS });
  });
});

describe.each(CRASH_MODELS.map((model) => [model.name, model] as const))('%s', (name, model) => {
  it(`dies by ${model.signal} in the ${model.step} step, the same way twice`, async () => {
    const outcomes = await runs.get(name)!;
    const before = STEPS.slice(0, STEPS.indexOf(model.step));
    for (const outcome of outcomes) {
      const context = `${name}: exit code ${outcome.code}, signal ${outcome.signal}, error ${outcome.error}, stderr ${outcome.stderr}`;
      // Killed by the signal, not exited: no JS error and no exit code came first.
      expect(outcome.signal, context).toBe(model.signal);
      expect(outcome.code, context).toBeNull();
      expect(outcome.error, context).toBeUndefined();
      // Died in its step: every step before it finished, that one started and never finished.
      expect(outcome.started, context).toEqual([...before, model.step]);
      expect(outcome.finished, context).toEqual(before);
      if (model.stderr) expect(outcome.stderr, context).toMatch(model.stderr);
      else expect(outcome.stderr.trim(), context).toBe('');
    }
    // Deterministic: the same line each time.
    expect(faultLine(outcomes[1].stderr)).toBe(faultLine(outcomes[0].stderr));
    console.info(`${name}: ${model.signal} in ${model.step}, twice: ${faultLine(outcomes[0].stderr)}`);
  });
});

describe('the parent', () => {
  it('outlives every crash, and its own model still generates', async () => {
    await Promise.all([goodRun, ...runs.values()]);
    console.info(`children: ${((performance.now() - startedAt) / 1000).toFixed(1)} s for ${1 + 2 * CRASH_MODELS.length}`);
    const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
    try {
      const model = new ModelActor({ modelPath: tinyPath, llama: await getTestLlama(), threads: 1, contextSize: 256, slots: 1 });
      const address = router.registerActor('model', model, model.actorOptions);
      await model.load();
      const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, { prompt: CRASH_PROMPT, params: { maxTokens: 4, temperature: 0 } });
      expect(result.usage.completionTokens).toBe(4);
    } finally {
      await router.dispose();
    }
  });
});
