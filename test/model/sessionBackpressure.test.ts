import { afterEach, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { ModelMessage, modelProtocol, SessionMessage, sessionProtocol, StreamEventType } from '../../src/index.js';
import { getTestLlama } from './llama.js';
import { createTestRuntime } from './runtime.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Reads the model's token counter until two reads 250 ms apart agree (or 20 s pass: a guard, not the assertion). */
async function settledTokens(read: () => Promise<number>): Promise<number> {
  let last = await read();
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  return last;
}

describe('a session is a straight pipe', () => {
  it('a consumer that stops reading stops the model within highWaterMark + a few tokens', async () => {
    const runtime = await createTestRuntime({
      llama: await getTestLlama(),
      modelPath: await ensureTinyModel(),
      providerId: 'local',
      modelId: 'tiny',
      load: { slots: 1, threads: 1, contextSize: 512 },
    });
    cleanups.push(() => runtime.router.dispose(), () => runtime.store.dispose());
    const chat = runtime.router.ref(await runtime.sessions.create({ id: 'slow-reader', model: 'tiny' }), sessionProtocol);
    const model = runtime.router.ref(await runtime.models.ensureStarted('tiny'), modelProtocol);
    const before = (await model.ask(ModelMessage.Status, null)).tokensGenerated;
    const highWaterMark = 4;
    const maxTokens = 400;
    const stream = chat.stream(
      SessionMessage.Inference,
      { message: 'go on', params: { maxTokens, temperature: 0 } },
      { highWaterMark },
    );
    const events = stream[Symbol.asyncIterator]();
    const first = await events.next();
    expect(first.value?.type).toBe(StreamEventType.Token);
    // The consumer reads nothing more: the model must stall, not run on to maxTokens.
    const generated = (await settledTokens(async () => (await model.ask(ModelMessage.Status, null)).tokensGenerated)) - before;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThanOrEqual(1 + highWaterMark + 8);
    expect((await model.ask(ModelMessage.Status, null)).busySlots).toBe(1);
    // Leaving the loop cancels the turn and frees the slot.
    await events.return?.();
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if ((await model.ask(ModelMessage.Status, null)).busySlots === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await model.ask(ModelMessage.Status, null)).busySlots).toBe(0);
  });
});
