import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type ActorRef,
  type EventOf,
  type InspectionEvent,
  InspectionEventType,
  MessageRouter,
  ModelActor,
  ModelMessage,
  modelProtocol,
  type StartTrainingRequest,
  type TrainingConversation,
  type TrainingDataset,
  type TrainingProgressEvent,
  TunerActor,
  TunerMessage,
  type TunerProtocol,
  tunerProtocol,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

let llama: Llama;
let tinyPath: string;
let directory: string;
const routers: MessageRouter[] = [];

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
  directory = await mkdtemp(join(tmpdir(), 'llama-actors-tuner-training-'));
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.dispose()));
});

afterAll(async () => {
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

/** A router with a ModelActor on `modelPath` and its TunerActor writing into the test directory. */
async function setup(modelPath: string, inspect?: (event: InspectionEvent) => void) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 120_000, ...(inspect ? { inspect } : {}) });
  routers.push(router);
  const model = new ModelActor({ modelPath, llama, threads: 1, contextSize: 512, slots: 2 });
  const address = router.registerActor('model', model, model.actorOptions);
  await model.load();
  const tuner = router.ref(router.registerActor('tuner', new TunerActor({ model: address, outputDir: directory }), TunerActor.actorOptions), tunerProtocol);
  return { router, model: address, tuner };
}

type TrainingStreamEvent = EventOf<TunerProtocol, typeof TunerMessage.StartTraining>;

/** The stage of a training `progress` event, if it is one. */
function stageOf(event: TrainingStreamEvent): TrainingProgressEvent['stage'] | undefined {
  return event.type === 'progress' && event.data !== undefined && 'stage' in event.data ? event.data.stage : undefined;
}

/** Pids of the trainer processes this test process has started and that are still running. */
function trainerProcesses(): number[] {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, ...args]) => Number(ppid) === process.pid && args.some((arg) => arg.includes('trainerWorker')))
    .map(([pid]) => Number(pid));
}

const TOPICS = ['actors', 'models', 'tokens', 'sessions', 'streams', 'adapters', 'routers', 'contexts', 'slots', 'messages', 'queues', 'batches'];
/** A small, regular dataset the tiny model can learn in a few epochs. */
const conversations: TrainingConversation[] = TOPICS.flatMap((topic, i) =>
  [0, 1].map((round) => ({
    id: `${topic}-${round}`,
    messages: [
      { role: 'user' as const, content: `What are ${topic}?` },
      { role: 'assistant' as const, content: `The ${topic} are part of the actor model, and the model streams tokens to the session.` },
    ],
  })).slice(0, i % 2 === 0 ? 2 : 1),
);

const fastRun = { contextSize: 256, threads: 1, seed: 3 };

async function evaluate(tuner: ActorRef<TunerProtocol>, examples: TrainingDataset['train'], adapters: Array<{ path: string }>) {
  return tuner.ask(TunerMessage.Evaluate, { examples, adapters });
}

describe('TunerActor: training on llama.cpp', () => {
  it('trains: validation loss goes down, the trained GGUF loads and is better on the training text, and so is its LoRA', async () => {
    const states: string[] = [];
    const { router, tuner } = await setup(tinyPath, (event) => {
      if (event.type === InspectionEventType.ActorState && String(event.actor) === '@(tuner)' && event.state.startsWith('training:')) states.push(event.state);
    });
    const dataset = await tuner.ask(TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.25, seed: 1 });
    const events: TrainingStreamEvent[] = [];
    const streamed = await tuner.streamAsk(
      TunerMessage.StartTraining,
      { dataset, config: { loraRank: 8, learningRate: 2e-3, epochs: 6 }, options: fastRun },
      { onChunk: (event) => void events.push(event), timeout: 300_000 },
    );
    expect(streamed.error).toBeUndefined();
    const result = streamed.data;
    if (result === undefined) throw new Error('training ended without a result');

    // Progress: preparing, training epochs with losses, tokens/s and ETA, evaluating; then done.
    const stages = events.map(stageOf).filter((stage) => stage !== undefined);
    expect(stages[0]).toBe('preparing');
    expect(stages).toContain('training');
    expect(stages.at(-1)).toBe('evaluating');
    const training = events.flatMap((e) => (e.type === 'progress' && e.data !== undefined && 'stage' in e.data && e.data.stage === 'training' ? [e.data] : []));
    expect(training.at(-1)).toMatchObject({ epoch: 6, epochs: 6 });
    expect(training.every((p) => p.tokensPerSecond > 0 && p.etaMs >= 0 && Number.isFinite(p.trainLoss))).toBe(true);
    expect(states).toEqual(['training:preparing', 'training:training', 'training:evaluating', 'training:completed']);

    // The loss went down on held-out data.
    expect(result.history).toHaveLength(7);
    expect(result.initialValidationLoss).not.toBeNull();
    expect(result.validationLoss!).toBeLessThan(result.initialValidationLoss!);
    expect(result.lora.rank).toBe(8);
    expect(result.lora.retainedEnergy).toBeGreaterThan(0);
    expect(result.lora.retainedEnergy).toBeLessThanOrEqual(1 + 1e-6);
    expect(existsSync(result.modelPath)).toBe(true);
    expect(existsSync(result.adapterPath)).toBe(true);
    expect(result.evaluation.adapter.perplexity).toBeLessThan(result.evaluation.base.perplexity);

    // Status and metrics after the end.
    const status = await tuner.ask(TunerMessage.GetTrainingStatus, null);
    expect(status).toMatchObject({ sessionId: result.sessionId, state: 'completed', result: { modelPath: result.modelPath } });
    const metrics = await tuner.ask(TunerMessage.GetTrainingMetrics, null);
    expect(metrics.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(metrics.progress.length).toBeGreaterThanOrEqual(6);

    // On the training text: base > base + extracted LoRA, and base > the trained model in its own ModelActor.
    const base = await evaluate(tuner, dataset.train, []);
    const withLora = await evaluate(tuner, dataset.train, [{ path: result.adapterPath }]);
    expect(withLora.perplexity).toBeLessThan(base.perplexity);
    const trained = await setup(result.modelPath);
    const trainedEvaluation = await evaluate(trained.tuner, dataset.train, []);
    expect(trainedEvaluation.totalTokens).toBe(base.totalTokens);
    expect(trainedEvaluation.perplexity).toBeLessThan(base.perplexity);
    const generated = await trained.router.ref(trained.model, modelProtocol).ask(ModelMessage.Generate, {
      messages: [{ role: 'user', content: 'What are actors?' }],
      params: { maxTokens: 12, temperature: 0 },
    });
    expect(generated.usage.completionTokens).toBeGreaterThan(0);
  });

  it('stopTraining mid-epoch ends the child process and leaves no file that looks complete', async () => {
    const { tuner } = await setup(tinyPath);
    const outputPath = join(directory, 'stopped.gguf');
    const stream = tuner.stream(TunerMessage.StartTraining, {
      dataset: { conversations, validationSplit: 0.25 },
      config: { epochs: 500, learningRate: 1e-3 },
      options: { ...fastRun, outputPath },
    });
    const iterator = stream[Symbol.asyncIterator]();
    // Wait until the trainer reports from inside an epoch: the child is running.
    for (;;) {
      const step = await iterator.next();
      if (step.done) throw new Error('training ended before it was stopped');
      if (stageOf(step.value) === 'training') break;
    }
    await expect(tuner.ask(TunerMessage.StartTraining, { dataset: { conversations } })).rejects.toMatchObject({
      code: 'TRAINING_IN_PROGRESS',
    });
    const running = await tuner.ask(TunerMessage.GetTrainingStatus, null);
    expect(running.state).toBe('training');
    const pid = running.trainerPid as number;
    expect(pid).toBeGreaterThan(0);
    expect(process.kill(pid, 0)).toBe(true);
    const stopped = await tuner.ask(TunerMessage.StopTraining, null);
    // The trainer process is gone by the time stopTraining answers.
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(stopped.state).toBe('stopped');
    expect(stopped.error?.code).toBe('TRAINING_STOPPED');
    let last: TrainingStreamEvent | undefined;
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      last = step.value;
    }
    expect(last).toMatchObject({ type: 'error', code: 'TRAINING_STOPPED' });
    const left = (await readdir(directory)).filter((name) => name.startsWith('stopped'));
    expect(left).toEqual([]);
    const metrics = await tuner.ask(TunerMessage.GetTrainingMetrics, null);
    expect(metrics.state).toBe('stopped');
    expect(metrics.progress.length).toBeGreaterThan(0);
  });

  it('two concurrent startTraining: one runs, the other gets TRAINING_IN_PROGRESS, and stopTraining stops the one running', async () => {
    const { tuner } = await setup(tinyPath);
    const request = (name: string): StartTrainingRequest => ({
      dataset: { conversations, validationSplit: 0.25 },
      config: { epochs: 500, learningRate: 1e-3 },
      options: { ...fastRun, outputPath: join(directory, `${name}.gguf`) },
    });
    // Both sent in the same tick: the first start's check, Info ask and new session happen in the
    // exclusive lane, so the second one sees the session it stored.
    const starts = ['race-a', 'race-b'].map((name) => {
      const stream = tuner.stream(TunerMessage.StartTraining, request(name));
      return { name, stream, events: stream[Symbol.asyncIterator]() };
    });
    const firsts = await Promise.all(starts.map(async (start) => ({ ...start, first: await start.events.next() })));
    const refused = firsts.filter(({ first }) => !first.done && first.value.type === 'error');
    const runningStarts = firsts.filter(({ first }) => !first.done && stageOf(first.value) === 'preparing');
    expect(refused.map(({ first }) => first.value)).toEqual([expect.objectContaining({ type: 'error', code: 'TRAINING_IN_PROGRESS' })]);
    expect(runningStarts).toHaveLength(1);
    const [winner] = runningStarts;
    if (winner === undefined) throw new Error('no start is running');
    // The refused stream is over; the other reaches the trainer.
    expect((await refused[0]?.events.next())?.done).toBe(true);
    for (;;) {
      const step = await winner.events.next();
      if (step.done) throw new Error('training ended before it was stopped');
      if (stageOf(step.value) === 'training') break;
    }

    // The session the tuner holds is the one running, and its trainer is the only one.
    const running = await tuner.ask(TunerMessage.GetTrainingStatus, null);
    expect(running.state).toBe('training');
    const pid = running.trainerPid as number;
    expect(pid).toBeGreaterThan(0);
    expect(trainerProcesses()).toEqual([pid]);

    const stopped = await tuner.ask(TunerMessage.StopTraining, null);
    expect(stopped).toMatchObject({ sessionId: running.sessionId, state: 'stopped', error: { code: 'TRAINING_STOPPED' } });
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(trainerProcesses()).toEqual([]);
    let last: TrainingStreamEvent | undefined;
    for (let step = await winner.events.next(); !step.done; step = await winner.events.next()) last = step.value;
    expect(last).toMatchObject({ type: 'error', code: 'TRAINING_STOPPED' });
    expect((await readdir(directory)).filter((name) => name.startsWith('race-'))).toEqual([]);
  });

  it('refuses what the llama.cpp backend cannot do, and status without a session, with typed errors', async () => {
    const { tuner } = await setup(tinyPath);
    await expect(tuner.ask(TunerMessage.GetTrainingStatus, null)).rejects.toMatchObject({ code: 'TRAINING_SESSION_NOT_FOUND' });
    await expect(tuner.ask(TunerMessage.StopTraining, null)).rejects.toMatchObject({ code: 'TRAINING_SESSION_NOT_FOUND' });
    await expect(
      tuner.ask(TunerMessage.StartTraining, {
        dataset: { conversations },
        config: { useQLoRA: true, qLoRAConfig: { quantType: 'nf4', useDoubleQuant: true, computeDtype: 'float16' } },
      }),
    ).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_BACKEND', message: expect.stringContaining('not supported by the llama.cpp backend') });
    await expect(tuner.ask(TunerMessage.StartTraining, { dataset: { conversations }, config: { batchSize: 4 } })).rejects.toMatchObject({
      code: 'NOT_SUPPORTED_BY_BACKEND',
    });
    await expect(tuner.ask(TunerMessage.StartTraining, { dataset: { conversations }, config: { loraRank: 0 } })).rejects.toMatchObject({
      code: 'INVALID_LORA_RANK',
    });
    await expect(
      tuner.ask(TunerMessage.StartTraining, { dataset: { conversations: conversations.slice(0, 2) }, options: fastRun }),
    ).rejects.toMatchObject({ code: 'NOT_ENOUGH_TOKENS' });
    const status = await tuner.ask(TunerMessage.GetTrainingStatus, null);
    expect(status.state).toBe('failed');
  });
});
