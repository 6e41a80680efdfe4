import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type Address,
  type EvaluationResult,
  type GenerateResult,
  type InspectionEvent,
  InspectionEventType,
  MessageRouter,
  ModelActor,
  ModelMessage,
  type TokenStreamEvent,
  type TrainingConversation,
  type TrainingDataset,
  type TrainingMetrics,
  type TrainingResult,
  type TrainingStatus,
  TunerActor,
  TunerMessage,
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
  const tuner = router.registerActor('tuner', new TunerActor({ model: address, outputDir: directory }), TunerActor.actorOptions);
  return { router, model: address, tuner };
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

async function evaluate(router: MessageRouter, tuner: Address, examples: TrainingDataset['train'], adapters: Array<{ path: string }>) {
  return router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples, adapters });
}

describe('TunerActor: training on llama.cpp', () => {
  it('trains: validation loss goes down, the trained GGUF loads and is better on the training text, and so is its LoRA', async () => {
    const states: string[] = [];
    const { router, tuner } = await setup(tinyPath, (event) => {
      if (event.type === InspectionEventType.ActorState && event.actor === '@(tuner)' && event.state.startsWith('training:')) states.push(event.state);
    });
    const dataset = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.25, seed: 1 });
    const events: TokenStreamEvent[] = [];
    const streamed = await router.streamAsk(
      tuner,
      TunerMessage.StartTraining,
      { dataset, config: { loraRank: 8, learningRate: 2e-3, epochs: 6 }, options: fastRun },
      { onChunk: (event) => void events.push(event), timeout: 300_000 },
    );
    expect(streamed.error).toBeUndefined();
    const result = streamed.data as unknown as TrainingResult;

    // Progress: preparing, training epochs with losses, tokens/s and ETA, evaluating; then done.
    const stages = events.filter((e) => e.type === 'progress').map((e) => (e.data as { stage: string }).stage);
    expect(stages[0]).toBe('preparing');
    expect(stages).toContain('training');
    expect(stages.at(-1)).toBe('evaluating');
    const training = events.filter((e) => e.type === 'progress' && (e.data as { stage: string }).stage === 'training').map((e) => e.data as Record<string, number>);
    expect(training.at(-1)).toMatchObject({ epoch: 6, epochs: 6 });
    expect(training.every((p) => p.tokensPerSecond! > 0 && p.etaMs! >= 0 && Number.isFinite(p.trainLoss))).toBe(true);
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
    const status = await router.ask<TrainingStatus>(tuner, TunerMessage.GetTrainingStatus, null);
    expect(status).toMatchObject({ sessionId: result.sessionId, state: 'completed', result: { modelPath: result.modelPath } });
    const metrics = await router.ask<TrainingMetrics>(tuner, TunerMessage.GetTrainingMetrics, null);
    expect(metrics.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(metrics.progress.length).toBeGreaterThanOrEqual(6);

    // On the training text: base > base + extracted LoRA, and base > the trained model in its own ModelActor.
    const base = await evaluate(router, tuner, dataset.train, []);
    const withLora = await evaluate(router, tuner, dataset.train, [{ path: result.adapterPath }]);
    expect(withLora.perplexity).toBeLessThan(base.perplexity);
    const trained = await setup(result.modelPath);
    const trainedEvaluation = await evaluate(trained.router, trained.tuner, dataset.train, []);
    expect(trainedEvaluation.totalTokens).toBe(base.totalTokens);
    expect(trainedEvaluation.perplexity).toBeLessThan(base.perplexity);
    const generated = await trained.router.ask<GenerateResult>(trained.model, ModelMessage.Generate, {
      messages: [{ role: 'user', content: 'What are actors?' }],
      params: { maxTokens: 12, temperature: 0 },
    });
    expect(generated.usage.completionTokens).toBeGreaterThan(0);
  });

  it('stopTraining mid-epoch ends the child process and leaves no file that looks complete', async () => {
    const { router, tuner } = await setup(tinyPath);
    const outputPath = join(directory, 'stopped.gguf');
    const stream = router.stream(tuner, TunerMessage.StartTraining, {
      dataset: { conversations, validationSplit: 0.25 },
      config: { epochs: 500, learningRate: 1e-3 },
      options: { ...fastRun, outputPath },
    });
    const iterator = stream[Symbol.asyncIterator]();
    // Wait until the trainer reports from inside an epoch: the child is running.
    for (;;) {
      const step = await iterator.next();
      if (step.done) throw new Error('training ended before it was stopped');
      if (step.value.type === 'progress' && (step.value.data as { stage: string }).stage === 'training') break;
    }
    await expect(router.ask(tuner, TunerMessage.StartTraining, { dataset: { conversations } })).rejects.toMatchObject({
      code: 'TRAINING_IN_PROGRESS',
    });
    const running = await router.ask<TrainingStatus>(tuner, TunerMessage.GetTrainingStatus, null);
    expect(running.state).toBe('training');
    const pid = running.trainerPid as number;
    expect(pid).toBeGreaterThan(0);
    expect(process.kill(pid, 0)).toBe(true);
    const stopped = await router.ask<TrainingStatus>(tuner, TunerMessage.StopTraining, null);
    // The trainer process is gone by the time stopTraining answers.
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(stopped.state).toBe('stopped');
    expect(stopped.error?.code).toBe('TRAINING_STOPPED');
    let last: TokenStreamEvent | undefined;
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      last = step.value;
    }
    expect(last).toMatchObject({ type: 'error', code: 'TRAINING_STOPPED' });
    const left = (await readdir(directory)).filter((name) => name.startsWith('stopped'));
    expect(left).toEqual([]);
    const metrics = await router.ask<TrainingMetrics>(tuner, TunerMessage.GetTrainingMetrics, null);
    expect(metrics.state).toBe('stopped');
    expect(metrics.progress.length).toBeGreaterThan(0);
  });

  it('refuses what the llama.cpp backend cannot do, and status without a session, with typed errors', async () => {
    const { router, tuner } = await setup(tinyPath);
    await expect(router.ask(tuner, TunerMessage.GetTrainingStatus, null)).rejects.toMatchObject({ code: 'TRAINING_SESSION_NOT_FOUND' });
    await expect(router.ask(tuner, TunerMessage.StopTraining, null)).rejects.toMatchObject({ code: 'TRAINING_SESSION_NOT_FOUND' });
    await expect(
      router.ask(tuner, TunerMessage.StartTraining, {
        dataset: { conversations },
        config: { useQLoRA: true, qLoRAConfig: { quantType: 'nf4', useDoubleQuant: true, computeDtype: 'float16' } },
      }),
    ).rejects.toMatchObject({ code: 'NOT_SUPPORTED_BY_BACKEND', message: expect.stringContaining('not supported by the llama.cpp backend') });
    await expect(router.ask(tuner, TunerMessage.StartTraining, { dataset: { conversations }, config: { batchSize: 4 } })).rejects.toMatchObject({
      code: 'NOT_SUPPORTED_BY_BACKEND',
    });
    await expect(router.ask(tuner, TunerMessage.StartTraining, { dataset: { conversations }, config: { loraRank: 0 } })).rejects.toMatchObject({
      code: 'INVALID_LORA_RANK',
    });
    await expect(
      router.ask(tuner, TunerMessage.StartTraining, { dataset: { conversations: conversations.slice(0, 2) }, options: fastRun }),
    ).rejects.toMatchObject({ code: 'NOT_ENOUGH_TOKENS' });
    const status = await router.ask<TrainingStatus>(tuner, TunerMessage.GetTrainingStatus, null);
    expect(status.state).toBe('failed');
  });
});
