import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoModel, ensureTinyModel } from '../../scripts/make-models.js';
import { Corpus } from '../../scripts/models/Corpus.js';
import {
  type Address,
  type ChatMessage,
  ErrorCode,
  type GenerateRequest,
  type GenerateResult,
  type InspectionEvent,
  InspectionEventType,
  MessageRouter,
  ModelActor,
  type ModelActorOptions,
  ModelErrorCode,
  ModelLifecycleState,
  ModelMessage,
  type ModelInfo,
  type ModelStatus,
  type TokenStreamEvent,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';
import { Deferred } from '../../src/messaging/Deferred.js';

let llama: Llama;
let tinyPath: string;
let demoPath: string;
const routers: MessageRouter[] = [];

beforeAll(async () => {
  llama = await getTestLlama();
  [tinyPath, demoPath] = await Promise.all([ensureTinyModel(), ensureDemoModel()]);
});

afterEach(async () => {
  await Promise.all(routers.splice(0).map((router) => router.dispose()));
});

/** A router with one loaded ModelActor at @(model); one thread, as on this 2-core machine. */
async function setup(options: Partial<ModelActorOptions> = {}, inspect?: (event: InspectionEvent) => void) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000, ...(inspect ? { inspect } : {}) });
  routers.push(router);
  const model = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 256, slots: 4, ...options });
  const address = router.registerActor('model', model, model.actorOptions);
  await model.load();
  return { router, model, address };
}

const greedy = (prompt: string, maxTokens = 16): GenerateRequest => ({ prompt, params: { maxTokens, temperature: 0 } });

/** A stream that is started but not read: its producer blocks at the buffer, holding its slot. */
async function holdSlot(router: MessageRouter, address: Address) {
  const stream = router.stream(address, ModelMessage.Generate, greedy('hold', 200), { highWaterMark: 1 });
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next(); // the first token has come: the slot is taken
  return { release: () => stream.cancel(), stream };
}

async function status(router: MessageRouter, address: Address): Promise<ModelStatus> {
  return router.ask<ModelStatus>(address, ModelMessage.Status, null);
}

describe('ModelActor: loading and info', () => {
  it('loads a generated GGUF, reports progress, and describes the model', async () => {
    const progress: number[] = [];
    const { router, address, model } = await setup({ onLoadProgress: (p) => progress.push(p) });
    const info = await router.ask<ModelInfo>(address, ModelMessage.Info, null);
    expect(info).toMatchObject({
      path: tinyPath,
      architecture: 'llama',
      contextSize: 256,
      vocabularySize: 512,
      slots: 4,
      threads: 1,
      gpu: false,
      gpuLayers: 0,
      localBuild: llama.buildType === 'localBuild', // a local build, when one exists, is loaded by itself
      chatTemplate: 'ChatML',
    });
    expect(info.sizeBytes).toBeGreaterThan(100_000);
    expect(progress.at(-1)).toBe(1);
    expect(model.state).toBe(ModelLifecycleState.Ready);
  });

  it('its lifecycle is visible through the router’s inspection hook', async () => {
    const states: string[] = [];
    const { router } = await setup({}, (event) => {
      if (event.type === InspectionEventType.ActorState) states.push(event.state);
    });
    await router.unregisterActor('model');
    const distinct = states.filter((state, i) => state !== states[i - 1]);
    expect(distinct).toEqual([
      ModelLifecycleState.Unloaded,
      ModelLifecycleState.Loading,
      ModelLifecycleState.Ready,
      ModelLifecycleState.Unloaded,
    ]);
  });

  it('a missing file or a file that is not GGUF is a typed error for every request, and the actor stays up', async () => {
    const notGguf = join(tmpdir(), `llama-actors-not-gguf-${process.pid}.gguf`);
    await writeFile(notGguf, 'this is not a model');
    for (const [modelPath, code, text] of [
      ['/nonexistent/model.gguf', ModelErrorCode.ModelFileNotFound, 'model file not found: /nonexistent/model.gguf'],
      [notGguf, ModelErrorCode.InvalidModelFile, 'does not start with the GGUF magic'],
    ] as const) {
      const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
      routers.push(router);
      const model = new ModelActor({ modelPath, llama });
      router.registerActor('broken', model, model.actorOptions);
      await expect(model.load()).rejects.toMatchObject({ code });
      const error = await router.ask('broken', ModelMessage.Generate, greedy('hi')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toContain(text);
      expect(router.status('broken')).toBe('running');
      expect(model.state).toBe(ModelLifecycleState.Failed);
    }
  });
});

describe('ModelActor: generation', () => {
  it('ask returns text, finish reason and usage; stream gives the same text token by token with metadata', async () => {
    const { router, address } = await setup();
    const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy('the actor', 12));
    const { tokens: promptTokens } = await router.ask<{ tokens: number[] }>(address, ModelMessage.Tokenize, { text: 'the actor' });
    expect(result.finishReason).toBe('length');
    expect(result.usage).toMatchObject({ promptTokens: promptTokens.length, completionTokens: 12, totalTokens: promptTokens.length + 12 });
    expect(result.usage.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(result.text.length).toBeGreaterThan(0);

    const events: TokenStreamEvent[] = [];
    const streamed = await router.streamAsk(address, ModelMessage.Generate, { ...greedy('the actor', 12), logprobs: true }, {
      onChunk: (event) => void events.push(event),
    });
    expect(streamed.text).toBe(result.text);
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens).toHaveLength(12);
    for (const token of tokens) {
      expect(Number.isInteger(token.tokenId)).toBe(true);
      expect(token.logprob).toBeLessThanOrEqual(0);
      expect(token.tokensPerSecond).toBeGreaterThanOrEqual(0);
    }
    const done = events.at(-1);
    expect(done).toMatchObject({
      type: 'done',
      finishReason: 'length',
      usage: { promptTokens: promptTokens.length, completionTokens: 12, totalTokens: promptTokens.length + 12 },
    });
    expect(done?.usage?.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(done?.usage?.tokensPerSecond).toBeGreaterThan(0);
  });

  it('greedy output is identical whether requests run alone or 8 at once', async () => {
    const { router, address } = await setup({ slots: 8 });
    const prompts = ['the actor', 'a model', 'stream of', 'one token', 'slots are', 'queue', 'messages', 'runtime'];
    const alone: string[] = [];
    for (const prompt of prompts) {
      alone.push((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy(prompt, 24))).text);
    }
    const together = await Promise.all(
      prompts.map((prompt) => router.stream(address, ModelMessage.Generate, greedy(prompt, 24)).collect()),
    );
    expect(together).toEqual(alone);
    expect(new Set(alone).size).toBeGreaterThan(1);
  });

  it('a continuing session reuses its slot’s KV cache and evaluates only the new tokens, with the same output', async () => {
    const { router, address } = await setup({ slots: 2 });
    const fresh = await setup({ slots: 2, reuseKvCache: false });
    const history: ChatMessage[] = [{ role: 'user', content: 'tell me about actors' }];
    const turn = (r: MessageRouter, a: Address, messages: typeof history) =>
      r.ask<GenerateResult>(a, ModelMessage.Generate, { messages, session: 'chat-1', params: { maxTokens: 12, temperature: 0 } });
    const first = await turn(router, address, history);
    expect(first.usage.cachedPromptTokens).toBe(0);
    // Another session in between takes the other slot, not this one.
    await router.ask(address, ModelMessage.Generate, { ...greedy('someone else', 4), session: 'chat-2' });
    const next: ChatMessage[] = [
      ...history,
      { role: 'assistant', content: first.text },
      { role: 'user', content: 'and streams?' },
    ];
    const second = await turn(router, address, next);
    expect(second.usage.cachedPromptTokens).toBeGreaterThanOrEqual(first.usage.promptTokens);
    expect(second.usage.promptTokens - second.usage.cachedPromptTokens).toBeLessThan(first.usage.promptTokens);

    const reference = await turn(fresh.router, fresh.address, next);
    expect(reference.usage.cachedPromptTokens).toBe(0);
    expect(second.text).toBe(reference.text);
  });

  it('interleaved sessions, as many as slots, each keep their own slot: every turn after the first reuses its whole history', async () => {
    const { router, address } = await setup({ slots: 4 });
    const histories: ChatMessage[][] = [[], [], [], []];
    const lastPrompt = [0, 0, 0, 0];
    for (let turn = 0; turn < 3; turn++) {
      for (const [s, history] of histories.entries()) {
        history.push({ role: 'user', content: `session ${s}, message ${turn}: tell me about the actors and their mailboxes` });
        const reply = await router.ask<GenerateResult>(address, ModelMessage.Generate, { messages: history, session: `chat-${s}`, params: { maxTokens: 6, temperature: 0 } });
        // Only the template's opening is shared between sessions: a session moved onto another's slot keeps just that.
        if (turn > 0) expect(reply.usage.cachedPromptTokens, `session ${s}, turn ${turn + 1}`).toBeGreaterThanOrEqual(lastPrompt[s] as number);
        lastPrompt[s] = reply.usage.promptTokens;
        history.push({ role: 'assistant', content: reply.text });
      }
    }
  });

  it('a request without a session gets the free slot sharing the longest prefix with its prompt', async () => {
    const { router, address } = await setup({ slots: 2 });
    const tokensOf = async (text: string) => (await router.ask<{ tokens: number[] }>(address, ModelMessage.Tokenize, { text })).tokens;
    const shared = 'the router sends a message to the model and the model answers';
    await router.ask(address, ModelMessage.Generate, greedy('alpha beta gamma delta', 4)); // slot 1
    await router.ask(address, ModelMessage.Generate, greedy(shared, 4)); // slot 2
    // Least recently used is slot 1; slot 2 holds the shared prefix and is the one chosen.
    const next = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy(`${shared} with a stream of tokens`, 4));
    expect(next.usage.cachedPromptTokens).toBeGreaterThanOrEqual((await tokensOf(shared)).length - 1);
  });

  it('chat messages are formatted with the model’s chat template', async () => {
    const { router, address } = await setup();
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hello' },
    ] as const;
    const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
      messages: [...messages],
      params: { maxTokens: 8, temperature: 0 },
    });
    // ChatML wraps each turn in <|im_start|>role ... <|im_end|>: far more tokens than the words.
    expect(result.usage.promptTokens).toBeGreaterThan(10);
    expect(result.usage.completionTokens).toBeGreaterThan(0);
  });

  it('stop strings end generation before the stop string', async () => {
    const { router, address } = await setup({ modelPath: demoPath, contextSize: 512 });
    const full = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy('The actor', 30));
    const words = full.text.trim().split(' ');
    const stop = ` ${words[3]} ${words[4]}`;
    const cut = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
      prompt: 'The actor',
      params: { maxTokens: 30, temperature: 0, stop: [stop] },
    });
    expect(cut.finishReason).toBe('stopSequence');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it('JSON-schema constrained output parses and matches the schema', async () => {
    const { router, address } = await setup();
    const schema = {
      type: 'object',
      properties: { answer: { enum: ['yes', 'no'] }, confident: { type: 'boolean' } },
      required: ['answer', 'confident'],
    };
    const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
      prompt: 'Reply in JSON:',
      params: { maxTokens: 40, temperature: 0.8, seed: 1, jsonSchema: schema },
    });
    const parsed = JSON.parse(result.text) as { answer: string; confident: boolean };
    expect(['yes', 'no']).toContain(parsed.answer);
    expect(typeof parsed.confident).toBe('boolean');
  });

  it('seeded sampling is reproducible', async () => {
    const { router, address } = await setup();
    const sample = (seed: number) =>
      router.ask<GenerateResult>(address, ModelMessage.Generate, {
        prompt: 'the',
        params: { maxTokens: 16, temperature: 1, seed },
      });
    const [a, b] = [await sample(7), await sample(7)];
    expect(a.text).toBe(b.text);
  });

  it('the demo model writes legible words from its corpus', async () => {
    const { router, address } = await setup({ modelPath: demoPath, contextSize: 512 });
    const corpusWords = new Set(Corpus.load().paragraphs.flat().map((w) => w.toLowerCase()));
    const result = await router.ask<GenerateResult>(address, ModelMessage.Generate, {
      prompt: 'The model',
      params: { maxTokens: 60, temperature: 0.7, seed: 42 },
    });
    const words = result.text.match(/[A-Za-z0-9'-]+/g) ?? [];
    expect(words.length).toBeGreaterThan(20);
    expect(words.filter((w) => !corpusWords.has(w.toLowerCase()))).toEqual([]);
  });
});

describe('ModelActor: admission, cancellation and bad input', () => {
  it('a full queue is refused at once with QUEUE_FULL naming the numbers; nothing else is disturbed', async () => {
    const { router, address } = await setup({ slots: 1, maxQueue: 1 });
    const holder = await holdSlot(router, address);
    const queued = router.ask<GenerateResult>(address, ModelMessage.Generate, greedy('queued', 4));
    await expect.poll(async () => (await status(router, address)).queueDepth).toBe(1);
    const refused = await router.ask(address, ModelMessage.Generate, greedy('refused', 4)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ModelErrorCode.QueueFull, message: 'queue full: 1 waiting, limit 1 (all 1 slots busy)' });
    holder.release();
    await expect(queued).resolves.toMatchObject({ finishReason: 'length' });
    expect(await status(router, address)).toMatchObject({ busySlots: 0, queueDepth: 0 });
  });

  it('queued requests are served round-robin across sessions, so one chatty session cannot starve another', async () => {
    const { router, address } = await setup({ slots: 1 });
    const holder = await holdSlot(router, address);
    const order: string[] = [];
    const request = (session: string, n: number) =>
      router
        .ask<GenerateResult>(address, ModelMessage.Generate, { ...greedy(`${session}${n}`, 1), fairnessKey: session })
        .then(() => order.push(`${session}${n}`));
    const all = [request('chatty', 1), request('chatty', 2), request('chatty', 3), request('quiet', 1)];
    await expect.poll(async () => (await status(router, address)).queueDepth).toBe(4);
    holder.release();
    await Promise.all(all);
    expect(order).toEqual(['chatty1', 'quiet1', 'chatty2', 'chatty3']);
  });

  it.each(['native', 'node-llama-cpp'] as const)(
    'aborting a stream mid-generation stops the model within one token and frees its slot (%s engine)',
    async (engine) => {
      const { router, address } = await setup({ slots: 1, engine });
      expect((await router.ask<ModelInfo>(address, ModelMessage.Info, null)).engine).toBe(engine);
      const maxTokens = 200;
      const readBeforeAbort = 5;
      const request = greedy('abort me', maxTokens);
      // Left alone, this generation runs all its tokens (greedy on the tiny model reaches no EOS here),
      // so anything far below maxTokens after the abort is the abort's doing.
      const full = await router.ask<GenerateResult>(address, ModelMessage.Generate, request);
      expect([full.finishReason, full.usage.completionTokens]).toEqual(['length', maxTokens]);
      const before = await status(router, address);
      expect(before.busySlots).toBe(0);

      const controller = new AbortController();
      // A buffer of one event: the model cannot run ahead of this reader by more than one token.
      const stream = router.stream(address, ModelMessage.Generate, request, { signal: controller.signal, highWaterMark: 1 });
      const events = stream[Symbol.asyncIterator]();
      let read = 0;
      while (read < readBeforeAbort) {
        const step = await events.next();
        expect(step.done).toBe(false);
        if (step.value?.type === 'token') read++;
      }
      controller.abort();
      const rest: TokenStreamEvent[] = [];
      for (let step = await events.next(); !step.done; step = await events.next()) rest.push(step.value);
      expect(rest.at(-1)).toMatchObject({ type: 'error', code: ErrorCode.Aborted });

      // The slot comes back when the model's generation has ended; the deadline only guards a hang.
      await expect.poll(async () => (await status(router, address)).busySlots, { timeout: 30_000 }).toBe(0);
      const after = await status(router, address);
      // The model's own count: the tokens read, plus at most the one waiting in the buffer.
      expect(after.tokensGenerated - before.tokensGenerated).toBeLessThanOrEqual(readBeforeAbort + 1);
      if (engine === 'native') {
        // The engine's own decodes: the prompt's uncached rest, those tokens, the one the actor may
        // have taken and dropped at the abort and at most two sampled ahead (NativeJob.AHEAD).
        const decoded = (after.batching?.tokens ?? Number.NaN) - (before.batching?.tokens ?? Number.NaN);
        expect(decoded).toBeLessThanOrEqual(full.usage.promptTokens + readBeforeAbort + 1 + 1 + 2);
      } else {
        expect(after.batching).toBeUndefined();
      }
      // The slot serves the next request.
      await expect(router.ask(address, ModelMessage.Generate, greedy('next', 4))).resolves.toMatchObject({ finishReason: 'length' });
    },
  );

  it('aborting 100 random streams mid-flight leaves every slot free and the actor serving', async () => {
    const { router, address } = await setup({ slots: 4, maxQueue: 100 });
    const baseline = (await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy('after the storm', 16))).text;
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const runs = Array.from({ length: 100 }, (_, i) => {
      const controller = new AbortController();
      const abortAfter = random(8);
      let tokens = 0;
      if (abortAfter === 0 && i % 2 === 0) controller.abort(); // some before they start
      return router.streamAsk(address, ModelMessage.Generate, greedy(`stream ${i}`, 40), {
        signal: controller.signal,
        onChunk: (event) => {
          if (event.type === 'token' && ++tokens >= abortAfter) controller.abort();
        },
      }).catch((error: { code: string }) => ({ finishReason: error.code }));
    });
    const results = await Promise.all(runs);
    expect(results.every((r) => r.finishReason === 'cancelled' || r.finishReason === ErrorCode.Aborted)).toBe(true);
    await expect.poll(async () => status(router, address)).toMatchObject({ busySlots: 0, queueDepth: 0 });
    const after = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy('after the storm', 16));
    expect(after.text).toBe(baseline);
  });

  it.each([
    [{ prompt: '' }, ModelErrorCode.EmptyPrompt, 'prompt is empty'],
    [{ messages: [] }, ModelErrorCode.EmptyPrompt, 'prompt is empty'],
    [{ prompt: 'a', messages: [] }, ErrorCode.InvalidArgument, 'exactly one of prompt'],
    [{ messages: [{ role: 'robot', content: 'x' }] }, ErrorCode.InvalidArgument, 'messages[0] must be'],
    [{ prompt: 'x', params: { temperature: -1 } }, ModelErrorCode.InvalidParameter, 'invalid parameter temperature: -1 is outside 0..2'],
    [{ prompt: 'x', params: { maxTokens: 0 } }, ModelErrorCode.InvalidParameter, 'invalid parameter maxTokens: 0 is outside'],
    [{ prompt: 'x', params: { topP: 2 } }, ModelErrorCode.InvalidParameter, 'topP: 2 is outside 0..1'],
    [{ prompt: 'x', params: { seed: 1.5 } }, ModelErrorCode.InvalidParameter, 'seed: expected an integer, got 1.5'],
    [{ prompt: 'x', params: { max_tokens: 5 } }, ModelErrorCode.InvalidParameter, 'invalid parameter max_tokens: unknown parameter'],
    [{ prompt: 'x', params: { stop: [''] } }, ModelErrorCode.InvalidParameter, 'invalid parameter stop'],
    [{ prompt: 'x', params: { repeatPenalty: { penalty: 'high' } } }, ModelErrorCode.InvalidParameter, 'repeatPenalty.penalty: expected a number'],
  ])('refuses %j with a typed error', async (payload, code, message) => {
    const { router, address } = await setup();
    const error = await router.ask(address, ModelMessage.Generate, payload).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(message);
  });

  it('an over-long prompt is refused with the numbers, as an error event when streamed, and other streams go on', async () => {
    const { router, address } = await setup({ slots: 2 });
    const healthy = router.stream(address, ModelMessage.Generate, greedy('healthy', 20)).collect();
    const events: TokenStreamEvent[] = [];
    await router.streamAsk(address, ModelMessage.Generate, { prompt: 'word '.repeat(400) }, { onChunk: (e) => void events.push(e) });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'error', code: ModelErrorCode.PromptTooLong });
    expect(events[0]?.error).toMatch(/^prompt too long: \d+ tokens, context 256/);
    await expect(healthy).resolves.toEqual(expect.any(String));
    expect(router.status('model')).toBe('running');
  });
});

describe('ModelActor: other messages and shutdown', () => {
  it('tokenize and detokenize round-trip; bad ids are refused', async () => {
    const { router, address } = await setup({ modelPath: demoPath, contextSize: 512 });
    const { tokens } = await router.ask<{ tokens: number[] }>(address, ModelMessage.Tokenize, { text: 'the model actor' });
    expect(tokens.length).toBeGreaterThan(0);
    await expect(router.ask(address, ModelMessage.Detokenize, { tokens })).resolves.toEqual({ text: 'the model actor' });
    await expect(router.ask(address, ModelMessage.Detokenize, { tokens: [-1] })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });

  it('embed returns one vector per text, deterministically', async () => {
    const { router, address, model } = await setup();
    const info = await model.load();
    const first = await router.ask<{ embeddings: number[][]; dimensions: number }>(address, ModelMessage.Embed, {
      input: ['the actor', 'a stream'],
    });
    expect(first.embeddings).toHaveLength(2);
    expect(first.dimensions).toBe(info.embeddingSize);
    expect(first.embeddings[0]).not.toEqual(first.embeddings[1]);
    const again = await router.ask<{ embeddings: number[][] }>(address, ModelMessage.Embed, { input: 'the actor' });
    expect(again.embeddings[0]).toEqual(first.embeddings[0]);
  });

  it('status counts completed generations and tokens', async () => {
    const { router, address } = await setup();
    await router.ask(address, ModelMessage.Generate, greedy('count', 5));
    await router.ask(address, ModelMessage.Generate, greedy('count', 7));
    expect(await status(router, address)).toMatchObject({
      state: 'ready',
      slots: 4,
      busySlots: 0,
      queueDepth: 0,
      completed: 2,
      tokensGenerated: 12,
    });
  });

  it('unregistering mid-stream ends the stream with an error event, frees the slots, and unloads the model', async () => {
    const { router, address, model } = await setup({ slots: 2 });
    const events: TokenStreamEvent[] = [];
    // The consumer holds the third event until the actor is being unregistered, so the stream is
    // still running then however fast the engine is.
    const held = new Deferred<void>();
    const streaming = router.streamAsk(address, ModelMessage.Generate, greedy('long', 200), {
      onChunk: async (event) => {
        events.push(event);
        if (events.length === 3) await held.promise;
      },
    });
    await expect.poll(() => events.length).toBe(3);
    const unregistering = router.unregisterActor(address);
    held.resolve();
    await unregistering;
    await streaming;
    expect(events.at(-1)).toMatchObject({ type: 'error', code: ErrorCode.ActorStopped });
    expect(model.state).toBe(ModelLifecycleState.Unloaded);
    await model.dispose();
    await model.dispose(); // idempotent
    expect(model.state).toBe(ModelLifecycleState.Disposed);
  });
});
