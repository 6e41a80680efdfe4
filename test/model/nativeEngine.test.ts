import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoModel } from '../../scripts/make-models.js';
import { NativeEngine } from '../../src/actors/ModelActor/native/NativeEngine.js';
import {
  type GenerateResult,
  MessageRouter,
  ModelActor,
  type ModelActorOptions,
  type ModelInfo,
  ModelMessage,
  type ModelStatus,
  type ScoreResult,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

let llama: Llama;
let demoPath: string;
const routers: MessageRouter[] = [];
const engines: NativeEngine[] = [];

beforeAll(async () => {
  llama = await getTestLlama();
  demoPath = await ensureDemoModel();
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.dispose()));
  await Promise.all(engines.splice(0).map((engine) => engine.dispose()));
});

async function actor(options: Partial<ModelActorOptions>) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  routers.push(router);
  const model = new ModelActor({ modelPath: demoPath, llama, threads: 2, contextSize: 512, slots: 8, ...options });
  const address = router.registerActor(`model-${options.engine ?? 'auto'}`, model, model.actorOptions);
  await model.load();
  return { router, address };
}

async function engine(batchSize = 512) {
  const created = await NativeEngine.create({ modelPath: demoPath, contextSize: 512, slots: 2, threads: 2, batchSize, flashAttention: false });
  engines.push(created);
  return created;
}

const PROMPTS = ['The actor', 'Once upon a time', 'A model', 'The router sends', 'In the morning', 'Every message', 'She said', 'Tokens flow'];
const greedy = { maxTokens: 24, temperature: 0 };

describe('the native engine behind the ModelActor', () => {
  it('is the default on CPU, and node-llama-cpp stays available', async () => {
    const auto = await actor({});
    const chosen = await actor({ engine: 'node-llama-cpp' });
    expect((await auto.router.ask<ModelInfo>(auto.address, ModelMessage.Info, null)).engine).toBe('native');
    expect((await chosen.router.ask<ModelInfo>(chosen.address, ModelMessage.Info, null)).engine).toBe('node-llama-cpp');
  });

  it('gives node-llama-cpp’s greedy output, for 8 concurrent prompts and chats, and batches them', async () => {
    const native = await actor({ engine: 'native' });
    const reference = await actor({ engine: 'node-llama-cpp' });
    const requests = [
      ...PROMPTS.map((prompt) => ({ prompt, params: greedy })),
      ...PROMPTS.slice(0, 4).map((content) => ({ messages: [{ role: 'user' as const, content }], params: greedy })),
    ];
    const run = (side: typeof native) =>
      Promise.all(requests.map((request) => side.router.ask<GenerateResult>(side.address, ModelMessage.Generate, request)));
    const [ours, theirs] = [await run(native), await run(reference)];
    expect(ours.map((result) => result.text)).toEqual(theirs.map((result) => result.text));
    expect(ours.every((result) => (result.usage.completionTokens ?? 0) > 0)).toBe(true);
    const { batching } = await native.router.ask<ModelStatus>(native.address, ModelMessage.Status, null);
    // 12 requests on 8 slots: most steps decode several sequences at once.
    expect((batching?.tokens ?? 0) / (batching?.decodes ?? 1)).toBeGreaterThan(4);
  });

  it('scores tokens as node-llama-cpp does, and reports logprobs while streaming', async () => {
    const native = await actor({ engine: 'native' });
    const reference = await actor({ engine: 'node-llama-cpp' });
    const { tokens } = await native.router.ask<{ tokens: number[] }>(native.address, ModelMessage.Tokenize, {
      text: 'The actor sends a message and the router delivers it to the model.',
    });
    expect(tokens.length).toBeGreaterThanOrEqual(10);
    const request = { tokens: tokens.slice(0, 10), spans: [[2, 6] as [number, number], [8, 10] as [number, number]] };
    const ours = await native.router.ask<ScoreResult>(native.address, ModelMessage.Score, request);
    const theirs = await reference.router.ask<ScoreResult>(reference.address, ModelMessage.Score, request);
    expect(ours.logprobs).toHaveLength(6);
    for (const [i, value] of ours.logprobs.entries()) expect(value).toBeCloseTo(theirs.logprobs[i] as number, 3);
    const logprobs: number[] = [];
    await native.router.streamAsk(native.address, ModelMessage.Generate, { prompt: 'The actor', params: greedy, logprobs: true }, {
      onChunk: (event) => {
        if (event.type === 'token' && event.logprob !== undefined) logprobs.push(event.logprob);
      },
    });
    expect(logprobs.length).toBeGreaterThan(0);
    expect(logprobs.every((value) => Number.isFinite(value) && value <= 0)).toBe(true);
  });
});

describe('NativeEngine', () => {
  it('a consumer that stops reading stops its sequence within two tokens, and the other runs on', async () => {
    const created = await engine();
    const [held, free] = [created.getSequence(), created.getSequence()];
    const prompt = [1, 45, 113];
    const sampling = { temperature: 0, topK: 40, topP: 1, minP: 0, maxTokens: 200 };
    const stalled = held.evaluate(prompt, sampling)[Symbol.asyncIterator]();
    await stalled.next();
    let others = 0;
    for await (const _ of free.evaluate(prompt, { ...sampling, maxTokens: 40 })) others++;
    await created.whenIdle();
    expect(others).toBe(40);
    // One token taken, at most two waiting: the held sequence decoded its prompt and ≤ 3 tokens.
    expect(held.contextTokens.length).toBeLessThanOrEqual(prompt.length + 3);
    await stalled.return(undefined);
  });

  it('an abort during a long prompt stops at the next batch and leaves the slot usable', async () => {
    const created = await engine(16);
    const slot = created.getSequence();
    const prompt = Array.from({ length: 320 }, (_, i) => 10 + (i % 100));
    const controller = new AbortController();
    const sampling = { temperature: 0, topK: 40, topP: 1, minP: 0, maxTokens: 8 };
    const iterator = slot.evaluate(prompt, sampling, controller.signal)[Symbol.asyncIterator]();
    // next() runs the generator to its first wait: the job is queued and the first batch is decoding.
    const first = iterator.next();
    controller.abort();
    expect(await first).toEqual({ done: true, value: undefined });
    await created.whenIdle();
    // 20 batches of 16 were needed; only the one already decoding when the abort came ran.
    expect(created.stats.decodes).toBe(1);
    expect(slot.contextTokens).toHaveLength(16);
    await slot.clearHistory();
    const after: number[] = [];
    for await (const { token } of slot.evaluate([1, 45], sampling)) after.push(token);
    expect(after).toHaveLength(8);
    await created.dispose();
    await created.dispose(); // idempotent
  });
});
