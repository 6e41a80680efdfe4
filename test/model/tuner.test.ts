import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyAdapters, ensureTinyModel, type TinyAdapterPaths } from '../../scripts/make-models.js';
import {
  AdapterErrorCode,
  type AdapterInfo,
  type AdapterListing,
  type ChatTokens,
  type EvaluationProgress,
  type EvaluationResult,
  type InspectionEvent,
  InspectionEventType,
  MessageRouter,
  ModelActor,
  ModelMessage,
  type ModelStatus,
  type ResolvedTrainingConfig,
  type TokenStreamEvent,
  type TrainingConversation,
  type TrainingDataset,
  TunerActor,
  TunerErrorCode,
  TunerMessage,
  type TunerStatus,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

let llama: Llama;
let tinyPath: string;
let adapters: TinyAdapterPaths;
const routers: MessageRouter[] = [];

beforeAll(async () => {
  llama = await getTestLlama();
  [tinyPath, adapters] = await Promise.all([ensureTinyModel(), ensureTinyAdapters()]);
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.dispose()));
});

async function setup(inspect?: (event: InspectionEvent) => void) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000, ...(inspect ? { inspect } : {}) });
  routers.push(router);
  const model = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 256, slots: 2, adapterContextIdleMs: 0 });
  const modelAddress = router.registerActor('model', model, model.actorOptions);
  await model.load();
  const tuner = router.registerActor('tuner', new TunerActor({ model: modelAddress }), TunerActor.actorOptions);
  return { router, model: modelAddress, tuner };
}

const SUBJECTS = ['actors', 'models', 'tokens', 'sessions', 'streams', 'adapters', 'routers', 'contexts', 'slots', 'messages'];
const conversations: TrainingConversation[] = SUBJECTS.map((subject, i) => ({
  id: `c${i}`,
  messages: [
    { role: 'system', content: 'You answer in one short sentence.' },
    { role: 'user', content: `What are ${subject}?` },
    { role: 'assistant', content: `The ${subject} are part of the actor model.` },
    ...(i % 3 === 0
      ? [
          { role: 'user' as const, content: 'And then?' },
          { role: 'assistant' as const, content: `Then the ${subject} stream tokens.` },
        ]
      : []),
  ],
}));

describe('TunerActor: training data', () => {
  it('formats with the chat template, marks the assistant turns, and splits deterministically by seed', async () => {
    const { router, tuner, model } = await setup();
    const plain = await llama.loadModel({ modelPath: tinyPath });
    const [endOfTurn] = plain.tokenize('<|im_end|>', true);
    await plain.dispose();
    const dataset = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.2, seed: 7 });
    expect(dataset.counts).toMatchObject({ examples: 10, trainExamples: 8, validationExamples: 2 });
    expect(dataset.overlong).toEqual([]);
    expect(dataset.contextSize).toBe(256);
    const all = [...dataset.train, ...dataset.validation];
    expect(dataset.counts.trainTokens).toBe(dataset.train.reduce((sum, e) => sum + e.tokens.length, 0));
    expect(dataset.counts.assistantTokens).toBe(all.reduce((sum, e) => sum + e.assistantTokens, 0));

    // Each span is the assistant's text followed by the end-of-turn token.
    const first = all.find((e) => e.id === 'c0');
    expect(first?.assistantSpans).toHaveLength(2);
    for (const [index, [start, end]] of (first?.assistantSpans ?? []).entries()) {
      const { text } = await router.ask<{ text: string }>(model, ModelMessage.Detokenize, { tokens: first?.tokens.slice(start, end - 1) });
      expect(text.trim()).toBe(index === 0 ? 'The actors are part of the actor model.' : 'Then the actors stream tokens.');
      expect(first?.tokens[end - 1]).toBe(endOfTurn);
    }

    const again = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.2, seed: 7 });
    expect(again.validation.map((e) => e.id)).toEqual(dataset.validation.map((e) => e.id));
    const splits = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
      const other = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.2, seed });
      splits.add(other.validation.map((e) => e.id).join(','));
    }
    expect(splits.size).toBeGreaterThan(1);
  });

  it('reports examples longer than the context instead of cutting them', async () => {
    const { router, tuner } = await setup();
    const long: TrainingConversation = {
      id: 'long',
      messages: [
        { role: 'user', content: 'Tell me everything.' },
        { role: 'assistant', content: Array.from({ length: 40 }, () => 'the actor model streams tokens').join(' ') },
      ],
    };
    const dataset = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, {
      conversations: [...conversations, long],
      validationSplit: 0,
    });
    expect(dataset.counts.examples).toBe(10);
    expect(dataset.overlong).toHaveLength(1);
    expect(dataset.overlong[0]).toMatchObject({ id: 'long', contextSize: 256 });
    expect(dataset.overlong[0]?.tokens).toBeGreaterThan(256);
  });

  it('refuses bad data with a typed error naming the example', async () => {
    const { router, tuner } = await setup();
    const prepare = (data: unknown) => router.ask(tuner, TunerMessage.PrepareTrainingData, { conversations: data });
    await expect(prepare([])).rejects.toMatchObject({ code: TunerErrorCode.InvalidTrainingData, problem: 'empty-dataset' });
    await expect(prepare([conversations[0], { id: 'empty', messages: [] }])).rejects.toMatchObject({
      code: TunerErrorCode.InvalidTrainingData,
      problem: 'empty-conversation',
      example: 1,
      message: 'conversation 1 ("empty") has no messages',
    });
    await expect(
      prepare([{ id: 'bot', messages: [{ role: 'user', content: 'hi' }, { role: 'bot', content: 'hello' }] }]),
    ).rejects.toMatchObject({
      problem: 'unknown-role',
      message: 'conversation 0 ("bot"): message 1 has role "bot" (expected system, user or assistant)',
    });
    await expect(prepare([conversations[1], { messages: [{ role: 'user', content: 'hi' }] }])).rejects.toMatchObject({
      problem: 'no-assistant-turn',
      exampleId: '#1',
      message: 'conversation 1 ("#1") has no assistant turn to learn from',
    });
    await expect(router.ask(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('validates training configs with the reference API’s error cases', async () => {
    const { router, tuner } = await setup();
    const validate = (config: unknown) => router.ask<ResolvedTrainingConfig>(tuner, TunerMessage.ValidateTrainingConfig, { config });
    await expect(validate({ loraRank: 8, learningRate: 2e-5, epochs: 3, batchSize: 1 })).resolves.toMatchObject({ loraRank: 8, loraAlpha: 8 });
    await expect(validate({ loraRank: 0 })).rejects.toMatchObject({ code: TunerErrorCode.InvalidLoraRank });
    await expect(validate({ learningRate: -1 })).rejects.toMatchObject({ code: TunerErrorCode.InvalidLearningRate });
    await expect(validate({ epochs: 0 })).rejects.toMatchObject({ code: TunerErrorCode.InvalidEpochs });
  });
});

describe('TunerActor: adapters', () => {
  it('validates, applies, rescales, lists and removes adapters on its model', async () => {
    const { router, tuner } = await setup();
    const info = await router.ask<AdapterInfo>(tuner, TunerMessage.ValidateAdapter, { path: adapters.valid });
    expect(info).toMatchObject({ rank: 4, architecture: 'llama' });
    await expect(router.ask(tuner, TunerMessage.ValidateAdapter, { path: adapters.badShape })).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
    });
    await expect(router.ask(tuner, TunerMessage.ApplyAdapter, { path: '/missing/lora.gguf' })).rejects.toMatchObject({
      code: AdapterErrorCode.AdapterFileNotFound,
    });
    let listing = await router.ask<AdapterListing>(tuner, TunerMessage.ApplyAdapter, { path: adapters.valid, scale: 0.5 });
    expect(listing.applied).toEqual([{ path: adapters.valid, scale: 0.5 }]);
    listing = await router.ask<AdapterListing>(tuner, TunerMessage.SetAdapterScale, { path: adapters.valid, scale: 2 });
    expect(listing.applied).toEqual([{ path: adapters.valid, scale: 2 }]);
    listing = await router.ask<AdapterListing>(tuner, TunerMessage.ListAdapters, null);
    expect(listing.contexts.filter((c) => c.isDefault)).toHaveLength(1);
    listing = await router.ask<AdapterListing>(tuner, TunerMessage.RemoveAdapter, {});
    expect(listing.applied).toEqual([]);
  });
});

describe('TunerActor: evaluation', () => {
  it('computes perplexity and loss over the assistant tokens, with and without an adapter', async () => {
    const { router, tuner } = await setup();
    const base = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples: conversations.slice(0, 4), adapters: [] });
    expect(base.totalTokens).toBeGreaterThan(20);
    expect(base.examples).toHaveLength(4);
    expect(base.averageLoss).toBeGreaterThan(0);
    expect(base.perplexity).toBeCloseTo(Math.exp(base.averageLoss), 6);
    // Random weights over a 512-token vocabulary: near-uniform, so perplexity is of the order of 512.
    expect(base.perplexity).toBeGreaterThan(50);
    const weighted = base.examples.reduce((sum, e) => sum + e.loss * e.tokens, 0) / base.totalTokens;
    expect(weighted).toBeCloseTo(base.averageLoss, 9);

    const adapted = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples: conversations.slice(0, 4), adapter: adapters.valid });
    expect(adapted.totalTokens).toBe(base.totalTokens);
    expect(adapted.adapters).toEqual([{ path: adapters.valid, scale: 1 }]);
    expect(Math.abs(adapted.averageLoss - base.averageLoss)).toBeGreaterThan(0.01);
    const zero = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, {
      examples: conversations.slice(0, 4),
      adapter: { path: adapters.valid, scale: 0 },
    });
    expect(zero.averageLoss).toBeCloseTo(base.averageLoss, 5);
  });

  it('the loss from logits equals the loss from full-vocabulary probabilities for the same tokens', async () => {
    const { router, tuner } = await setup();
    const dataset = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.3, seed: 1 });
    for (const adapter of [[], [{ path: adapters.valid }]]) {
      const fromLogits = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples: dataset.validation, adapters: adapter, method: 'logits' });
      const fromProbabilities = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, {
        examples: dataset.validation,
        adapters: adapter,
        method: 'probabilities',
      });
      expect(fromProbabilities.totalTokens).toBe(fromLogits.totalTokens);
      expect(Math.abs(fromProbabilities.averageLoss - fromLogits.averageLoss)).toBeLessThan(1e-4);
      for (const [i, example] of fromLogits.examples.entries()) {
        expect(Math.abs((fromProbabilities.examples[i]?.loss ?? 0) - example.loss)).toBeLessThan(1e-4);
      }
    }
  });

  it('streams one progress event per example and ends with the result in done.data; state shows in inspection', async () => {
    const states: string[] = [];
    const { router, tuner } = await setup((event) => {
      if (event.type === InspectionEventType.ActorState && String(event.actor) === '@(tuner)') states.push(event.state);
    });
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk(tuner, TunerMessage.Evaluate, { examples: conversations.slice(0, 3) }, {
      onChunk: (event) => void events.push(event),
    });
    expect(events.map((e) => e.type)).toEqual(['progress', 'progress', 'progress', 'done']);
    const progress = events.map((e) => e.data as unknown as EvaluationProgress | undefined);
    expect(progress.slice(0, 3).map((p) => [p?.completed, p?.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
    const data = result.data as unknown as EvaluationResult;
    expect(data.examples.map((e) => e.id)).toEqual(['c0', 'c1', 'c2']);
    expect(progress[2]?.averageLoss).toBeCloseTo(data.averageLoss, 9);
    expect(states).toContain('busy');
    expect(states.at(-1)).toBe('idle');
    const status = await router.ask<TunerStatus>(tuner, TunerMessage.Status, null);
    expect(status.state).toBe('idle');
    expect(status.lastEvaluation?.averageLoss).toBe(data.averageLoss);
  });

  it('cancelling an evaluation stops the model’s scoring there and frees its slot', async () => {
    let idle: () => void = () => {};
    const backToIdle = new Promise<void>((resolve) => {
      idle = resolve;
    });
    let busy = false;
    const { router, tuner, model } = await setup((event) => {
      if (event.type !== InspectionEventType.ActorState || String(event.actor) !== '@(tuner)') return;
      if (event.state === 'busy') busy = true;
      else if (busy && event.state === 'idle') idle();
    });
    const modelStatus = () => router.ask<ModelStatus>(model, ModelMessage.Status, null);
    const many = Array.from({ length: 30 }, (_, i) => ({ ...conversations[i % 10], id: `x${i}` })) as TrainingConversation[];
    // The most that scoring the first two examples can cost the engine: every one of their tokens.
    const tokens = await Promise.all(
      many.map((c) => router.ask<ChatTokens>(model, ModelMessage.TokenizeChat, { messages: c.messages }).then((t) => t.tokens.length)),
    );
    const twoExamples = (tokens[0] ?? 0) + (tokens[1] ?? 0);
    const before = await modelStatus();
    expect(before.batching).toBeDefined(); // the native engine, whose decodes (scoring too) are counted

    // A buffer of one event: once the first progress is read, the tuner is at most at example 2
    // (scoring it, or waiting to hand over its progress), 28 examples before the end.
    const stream = router.stream(tuner, TunerMessage.Evaluate, { examples: many }, { highWaterMark: 1 });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ type: 'progress', data: { completed: 1, total: 30 } });
    stream.cancel();
    const rest: TokenStreamEvent[] = [];
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) rest.push(step.value);
    expect(rest.at(-1)).toMatchObject({ type: 'error', code: 'ABORTED' });
    await backToIdle;
    const status = await router.ask<TunerStatus>(tuner, TunerMessage.Status, null);
    expect(status.running).toEqual([]);
    const after = await modelStatus();
    expect(after).toMatchObject({ busySlots: 0, queueDepth: 0 });
    // The model's own decodes: nothing of examples 3 to 30 was scored.
    const cancelledDecodes = (after.batching?.tokens ?? Number.NaN) - (before.batching?.tokens ?? Number.NaN);
    expect(cancelledDecodes).toBeLessThanOrEqual(twoExamples);

    // The bound means something: the whole evaluation, run to its end, decodes far more.
    await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples: many });
    const whole = ((await modelStatus()).batching?.tokens ?? Number.NaN) - (after.batching?.tokens ?? Number.NaN);
    expect(whole).toBeGreaterThan(4 * twoExamples);
  });
});
