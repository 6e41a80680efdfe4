import type { Llama } from 'node-llama-cpp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type Address,
  type CompletionEvent,
  EntityErrorCode,
  ErrorCode,
  type InferenceResult,
  MessageRouter,
  type ModelLoadOptions,
  SessionMessage,
  type SessionExport,
  type SessionHistory,
  type TokenStreamEvent,
  ActorKindMismatchError,
  ModelMessage,
  modelProtocol,
  sessionProtocol,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';
import { createTestRuntime } from './runtime.js';

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

/** The seed's flow: a provider, a model and a session manager over one store. */
async function setup(load: ModelLoadOptions = {}) {
  const runtime = await createTestRuntime({
    llama,
    modelPath: tinyPath,
    providerId: 'stream-provider',
    modelId: 'stream-model',
    load: { slots: 4, threads: 1, contextSize: 512, ...load },
    askTimeout: 60_000,
  });
  const { router, store, models, sessions } = runtime;
  cleanups.push(() => router.dispose(), () => store.dispose());
  return { router, store, models, sessions };
}

const say = (router: MessageRouter, session: Address, message: string, maxTokens = 8) =>
  router.ask<InferenceResult>(session, SessionMessage.Inference, { message, params: { maxTokens, temperature: 0 } });

describe('SessionActor', () => {
  it('streams a turn token by token, persists it, and keeps the history', async () => {
    const { router, sessions } = await setup();
    const chat = await sessions.create({ id: 'stream-session', model: 'stream-model', systemPrompt: 'Be brief.' });
    const events: TokenStreamEvent[] = [];
    const result = await router.streamAsk(chat, SessionMessage.Inference, { message: 'hello', params: { maxTokens: 6, temperature: 0 } }, {
      onChunk: (event) => void events.push(event),
    });
    expect(result.error).toBeUndefined();
    expect(events.filter((e) => e.type === 'token')).toHaveLength(6);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length', usage: { completionTokens: 6 } });

    const history = await router.ask<SessionHistory>(chat, SessionMessage.History, null);
    expect(history.systemPrompt).toBe('Be brief.');
    expect(history.turns.map((t) => [t.role, t.content])).toEqual([
      ['user', 'hello'],
      ['assistant', result.text],
    ]);
    // Persisted before done: the store already has it.
    expect((await sessions.get('stream-session')).turns).toHaveLength(2);
  });

  it('a continuing conversation evaluates only the new turn (KV-cache reuse)', async () => {
    const { router, sessions } = await setup();
    const chat = await sessions.create({ model: 'stream-model' });
    const first = await say(router, chat, 'tell me about actors');
    const second = await say(router, chat, 'and about streams');
    expect(first.usage?.cachedPromptTokens).toBe(0);
    // The whole first prompt and part of the reply are still in the slot: only the rest is evaluated.
    expect(second.usage?.cachedPromptTokens).toBeGreaterThan(first.usage?.promptTokens ?? Number.POSITIVE_INFINITY);
  });

  it('turns in one session are serialized, in order', async () => {
    const { router, sessions } = await setup();
    const chat = await sessions.create({ model: 'stream-model' });
    const replies = await Promise.all(['one', 'two', 'three'].map((m) => say(router, chat, m, 4)));
    const history = await router.ask<SessionHistory>(chat, SessionMessage.History, null);
    expect(history.turns.map((t) => t.content)).toEqual([
      'one',
      replies[0]?.text,
      'two',
      replies[1]?.text,
      'three',
      replies[2]?.text,
    ]);
  });

  it('20 sessions on a 4-slot model keep correct, separate histories', async () => {
    const { router, sessions } = await setup({ slots: 4 });
    const reference = await setup({ slots: 1 });
    const chats = await Promise.all(Array.from({ length: 20 }, (_, i) => sessions.create({ id: `chat-${i}`, model: 'stream-model' })));
    // Three rounds; in each, all 20 sessions speak at once and compete for the 4 slots.
    for (const round of [0, 1, 2]) {
      await Promise.all(chats.map((chat, i) => say(router, chat, `session ${i} round ${round}`, 5)));
    }
    for (const [i, chat] of chats.entries()) {
      const { turns } = await router.ask<SessionHistory>(chat, SessionMessage.History, null);
      expect(turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual([0, 1, 2].map((r) => `session ${i} round ${r}`));
      expect(turns.map((t) => t.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    }
    // Each conversation's replies equal those of the same conversation held alone (greedy).
    for (const i of [0, 7, 19]) {
      const alone = await reference.sessions.create({ id: `alone-${i}`, model: 'stream-model' });
      for (const round of [0, 1, 2]) await say(reference.router, alone, `session ${i} round ${round}`, 5);
      const mine = await sessions.get(`chat-${i}`);
      const theirs = await reference.sessions.get(`alone-${i}`);
      expect(mine.turns.map((t) => t.content)).toEqual(theirs.turns.map((t) => t.content));
    }
  });

  it('shifts the oldest turns out when the conversation outgrows the context, keeping the system prompt', async () => {
    const { router, sessions } = await setup({ contextSize: 256 });
    const chat = await sessions.create({ model: 'stream-model', systemPrompt: 'system rules', params: { maxTokens: 16 } });
    let shifted = 0;
    for (let i = 0; i < 12; i++) {
      const result = await say(router, chat, `message number ${i} ${'with some padding words '.repeat(3)}`, 16);
      shifted += result.shiftedTurns;
    }
    expect(shifted).toBeGreaterThan(0);
    const history = await router.ask<SessionHistory>(chat, SessionMessage.History, null);
    expect(history.turns).toHaveLength(24); // history keeps everything; the model sees from contextStart
    expect(history.contextStart).toBe(shifted);
    expect(history.systemPrompt).toBe('system rules');
  });

  it('with overflow: error, a turn that does not fit is refused and the history is unchanged', async () => {
    const { router, sessions } = await setup({ contextSize: 256 });
    const chat = await sessions.create({ model: 'stream-model', overflow: 'error' });
    await say(router, chat, 'short', 4);
    const error = await say(router, chat, 'long '.repeat(300), 4).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: EntityErrorCode.ContextOverflow });
    expect((error as Error).message).toMatch(/^context overflow: \d+ tokens, context 256/);
    expect((await router.ask<SessionHistory>(chat, SessionMessage.History, null)).turns).toHaveLength(2);
  });

  it('reset, fork, export and import', async () => {
    const { router, sessions } = await setup();
    const chat = await sessions.create({ id: 'original', model: 'stream-model', systemPrompt: 'sys' });
    await say(router, chat, 'first');
    const forked = await router.ask<Address>(chat, SessionMessage.Fork, null);
    expect((await router.ask<SessionHistory>(forked, SessionMessage.History, null)).turns).toHaveLength(2);

    const exported = await router.ask<SessionExport>(chat, SessionMessage.Export, null);
    const json = JSON.parse(JSON.stringify(exported)) as unknown;
    const imported = await sessions.import(json, { id: 'imported' });
    const [a, b] = await Promise.all([say(router, chat, 'second'), say(router, imported, 'second')]);
    expect(b.text).toBe(a.text); // the same history gives the same greedy continuation
    const importedHistory = await router.ask<SessionHistory>(imported, SessionMessage.History, null);
    const originalHistory = await router.ask<SessionHistory>(chat, SessionMessage.History, null);
    expect(importedHistory.turns.map((t) => t.content)).toEqual(originalHistory.turns.map((t) => t.content));

    await router.ask(chat, SessionMessage.Reset, null);
    expect((await router.ask<SessionHistory>(chat, SessionMessage.History, null)).turns).toEqual([]);
    expect((await sessions.get('original')).turns).toEqual([]);
    await expect(sessions.import({ format: 'something-else' })).rejects.toMatchObject({ code: EntityErrorCode.InvalidEntity });
    await expect(sessions.import({ ...exported, session: { ...exported.session, turns: [{ role: 'x' }] } }, { id: 'bad' })).rejects.toThrow(
      'session.turns[0] must be { role, content, at }',
    );
    await expect(sessions.create({ id: 'original', model: 'stream-model' })).rejects.toMatchObject({ code: EntityErrorCode.EntityExists });
    const listed = (await sessions.list()).map((s) => s.id);
    expect(listed).toHaveLength(3);
    expect(listed).toEqual(expect.arrayContaining(['imported', 'original', expect.stringMatching(/^session-/)]));
  });

  it('cancel stops the turn in flight, which is not persisted; the session goes on', async () => {
    const { router, sessions } = await setup();
    const chat = await sessions.create({ model: 'stream-model' });
    const events: TokenStreamEvent[] = [];
    let cancelled: unknown;
    const result = await router.streamAsk(chat, SessionMessage.Inference, { message: 'go on', params: { maxTokens: 200, temperature: 0 } }, {
      onChunk: async (event) => {
        events.push(event);
        if (events.length === 3) cancelled = await router.ask(chat, SessionMessage.Cancel, null);
      },
    });
    expect(cancelled).toEqual({ cancelled: expect.any(String) });
    expect(result.error?.code).toBe(ErrorCode.Aborted);
    expect((await router.ask<SessionHistory>(chat, SessionMessage.History, null)).turns).toEqual([]);
    await expect(say(router, chat, 'again', 3)).resolves.toMatchObject({ finishReason: 'length' });
  });

  it('prompt ids: waitForCompletion and completion events', async () => {
    const { router, sessions } = await setup();
    const completions: CompletionEvent[] = [];
    sessions.onCompletion((event) => completions.push(event));
    const chat = await sessions.create({ id: 'waiter', model: 'stream-model' });
    const stream = router.stream(chat, SessionMessage.Inference, { message: 'hi', params: { maxTokens: 4 } });
    const waited = router.ask<CompletionEvent>(chat, SessionMessage.WaitForCompletion, { promptId: stream.id });
    const named = say(router, chat, 'named', 3);
    await stream;
    await expect(waited).resolves.toMatchObject({ sessionId: 'waiter', promptId: stream.id, success: true, finishReason: 'length' });
    const result = await named;
    // Finished prompts can still be waited for.
    await expect(router.ask(chat, SessionMessage.WaitForCompletion, { promptId: result.promptId })).resolves.toMatchObject({ success: true });
    await expect(router.ask(chat, SessionMessage.WaitForCompletion, { promptId: 'nope' })).rejects.toMatchObject({
      code: EntityErrorCode.PromptNotFound,
    });
    expect(completions.map((c) => c.promptId)).toEqual([stream.id, result.promptId]);
  });

  it('models, sessions and tuners live in namespaces of their own: a session named like a model does not shadow it', async () => {
    const { router, models, sessions } = await setup();
    // Before kinds, this session took the id `stream-model` and ensureStarted returned the session's address.
    const chat = await sessions.create({ id: 'stream-model', model: 'stream-model' });
    expect(chat).toBe('@(session/stream-model)');
    const model = await models.ensureStarted('stream-model');
    expect(model).toBe('@(model/stream-model)');
    await expect(router.ref(model, modelProtocol).ask(ModelMessage.Info, null)).resolves.toMatchObject({ contextSize: 512 });
    // The wrong kind is a typed error, at the manager and at a ref.
    await expect(models.ensureStarted(chat)).rejects.toMatchObject({ code: 'ACTOR_KIND_MISMATCH' });
    expect(() => router.ref(chat, modelProtocol)).toThrow(ActorKindMismatchError);
    expect(() => router.ref(model, sessionProtocol)).toThrow(ActorKindMismatchError);
    await expect(router.ask(model, SessionMessage.History, null, { expectKind: sessionProtocol.kind })).rejects.toMatchObject({
      code: 'ACTOR_KIND_MISMATCH',
    });
    expect(await models.ensureTuner('stream-model')).toBe('@(tuner/stream-model)');
    await expect(say(router, chat, 'still a session', 3)).resolves.toMatchObject({ finishReason: 'length' });
  });

  it('waitForCompletion knows a turn that is still queued behind another', async () => {
    const { router, sessions } = await setup();
    const chat = router.ref(await sessions.create({ id: 'queued-waiter', model: 'stream-model' }), sessionProtocol);
    const first = chat.ask(SessionMessage.Inference, { message: 'first', params: { maxTokens: 8, temperature: 0 } });
    const second = chat.ask(SessionMessage.Inference, { message: 'second', promptId: 'the-second', params: { maxTokens: 4, temperature: 0 } });
    // Asked while the first turn runs and the second waits in the mailbox.
    const waited = chat.ask(SessionMessage.WaitForCompletion, { promptId: 'the-second' }, { timeout: 60_000 });
    await expect(waited).resolves.toMatchObject({ promptId: 'the-second', success: true, finishReason: 'length' });
    await first;
    await expect(second).resolves.toMatchObject({ promptId: 'the-second' });
  });

  it('invokeModel starts the model on first use and streams tokens to onToken', async () => {
    const { models, router } = await setup();
    expect(router.has('model/stream-model')).toBe(false);
    const tokens: string[] = [];
    const result = await models.invokeModel('stream-model', {
      message: 'hello',
      system: 'sys',
      stream: true,
      params: { maxTokens: 5, temperature: 0 },
      onToken: (text) => void tokens.push(text),
    });
    expect(router.has('model/stream-model')).toBe(true);
    expect(tokens.join('')).toBe(result.text);
    expect(result.usage?.completionTokens).toBe(5);
    const plain = await models.invokeModel('stream-model', { message: 'hello', system: 'sys', params: { maxTokens: 5, temperature: 0 } });
    expect(plain.text).toBe(result.text);
    await expect(models.invokeModel('no-such-model', { message: 'x' })).rejects.toMatchObject({ code: EntityErrorCode.EntityNotFound });
  });
});
