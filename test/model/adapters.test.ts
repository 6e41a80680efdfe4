import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyAdapters, ensureTinyModel, type TinyAdapterPaths } from '../../scripts/make-models.js';
import {
  type AdapterListing,
  AdapterErrorCode,
  type GenerateRequest,
  type GenerateResult,
  MessageRouter,
  ModelActor,
  type ModelActorOptions,
  ModelMessage,
  type ModelStatus,
  validateAdapter,
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

async function setup(options: Partial<ModelActorOptions> = {}) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
  routers.push(router);
  const model = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 256, slots: 2, ...options });
  const address = router.registerActor('model', model, model.actorOptions);
  await model.load();
  return { router, model, address };
}

const PROMPT = 'The actor model';
const greedy = (extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompt: PROMPT,
  params: { maxTokens: 24, temperature: 0 },
  ...extra,
});

/** Writes a copy of `source` with every occurrence of `from` replaced by `to` (same length). */
async function patchedCopy(source: string, name: string, from: string, to: string): Promise<string> {
  const bytes = await readFile(source);
  const needle = Buffer.from(from, 'latin1');
  const replacement = Buffer.from(to, 'latin1');
  expect(replacement.length).toBe(needle.length);
  let count = 0;
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    replacement.copy(bytes, at);
    count++;
  }
  expect(count).toBeGreaterThan(0);
  const path = join(tmpdir(), `llama-actors-${process.pid}-${name}.gguf`);
  await writeFile(path, bytes);
  return path;
}

describe('validateAdapter', () => {
  it('describes a fitting adapter: rank, alpha, the base tensors it targets', async () => {
    const info = await validateAdapter(adapters.valid, tinyPath);
    expect(info).toMatchObject({ path: adapters.valid, architecture: 'llama', rank: 4, alpha: 4 });
    expect(info.targets.sort()).toEqual(
      ['blk.0.attn_q.weight', 'blk.0.attn_v.weight', 'blk.1.attn_q.weight', 'blk.1.attn_v.weight', 'output.weight'].sort(),
    );
    expect(info.parameters).toBeGreaterThan(0);
  });

  it('refuses a missing file, a non-GGUF file and a whole model with typed errors', async () => {
    await expect(validateAdapter('/nonexistent/adapter.gguf', tinyPath)).rejects.toMatchObject({
      code: AdapterErrorCode.AdapterFileNotFound,
      message: expect.stringContaining('/nonexistent/adapter.gguf'),
    });
    const text = join(tmpdir(), `llama-actors-${process.pid}-not-gguf.gguf`);
    await writeFile(text, 'just some text, not a GGUF file');
    await expect(validateAdapter(text, tinyPath)).rejects.toMatchObject({ code: AdapterErrorCode.NotAnAdapter, message: expect.stringContaining('"just"') });
    await expect(validateAdapter(tinyPath, tinyPath)).rejects.toMatchObject({
      code: AdapterErrorCode.NotAnAdapter,
      message: expect.stringContaining('general.type is "model"'),
    });
  });

  it('names the tensor and both shapes when a shape does not fit', async () => {
    await expect(validateAdapter(adapters.badShape, tinyPath)).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
      tensor: 'blk.0.attn_q.weight',
      message: expect.stringMatching(/blk\.0\.attn_q\.weight is \[64, 64\] in the base model but its lora_a is \[32, 4\]/),
    });
  });

  it('refuses another architecture and a tensor the base model lacks', async () => {
    const otherArch = await patchedCopy(adapters.valid, 'other-arch', '\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000llama', '\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000qwen2');
    await expect(validateAdapter(otherArch, tinyPath)).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
      message: expect.stringContaining('architecture "qwen2", base model "llama"'),
    });
    const noTensor = await patchedCopy(adapters.valid, 'no-tensor', 'blk.1.attn_v.weight.lora_', 'blk.7.attn_v.weight.lora_');
    await expect(validateAdapter(noTensor, tinyPath)).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
      tensor: 'blk.7.attn_v.weight',
      message: expect.stringContaining('blk.7.attn_v.weight does not exist in the base model'),
    });
  });
});

describe('ModelActor: LoRA adapters', () => {
  it('an adapter at scale 0 gives the base model’s greedy output, at scale 1 a different one', async () => {
    const { router, address } = await setup();
    const base = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy());
    const zero = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy({ adapters: [{ path: adapters.valid, scale: 0 }] }));
    const one = await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy({ adapters: [{ path: adapters.valid, scale: 1 }] }));
    expect(base.usage.completionTokens).toBeGreaterThan(3);
    expect(zero.text).toBe(base.text);
    expect(one.text).not.toBe(base.text);
  });

  it('applyAdapter / setAdapterScale / removeAdapter change the model’s set without a reload', async () => {
    const { router, address } = await setup({ adapterContextIdleMs: 0 });
    const base = (await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text;
    const adapted = (await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy({ adapters: [{ path: adapters.valid }] }))).text;

    let listing = await router.ask<AdapterListing>(address, ModelMessage.ApplyAdapter, { path: adapters.valid, scale: 1 });
    expect(listing.applied).toEqual([{ path: adapters.valid, scale: 1 }]);
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text).toBe(adapted);
    // A request may still ask for the base model explicitly.
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy({ adapters: [] }))).text).toBe(base);

    listing = await router.ask<AdapterListing>(address, ModelMessage.SetAdapterScale, { path: adapters.valid, scale: 0 });
    expect(listing.applied).toEqual([{ path: adapters.valid, scale: 0 }]);
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text).toBe(base);

    listing = await router.ask<AdapterListing>(address, ModelMessage.RemoveAdapter, { path: adapters.valid });
    expect(listing.applied).toEqual([]);
    expect(listing.contexts).toHaveLength(1); // idle contexts of other sets were freed (idle time 0)
    expect(listing.contexts[0]).toMatchObject({ adapters: [], isDefault: true, slots: 2, busySlots: 0 });
    expect(listing.contexts[0]?.estimatedBytes).toBeGreaterThan(0);
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text).toBe(base);
  });

  it('a stream already running finishes on the adapter set it started with', async () => {
    const { router, address } = await setup({ adapterContextIdleMs: 0 });
    const request = greedy({ params: { maxTokens: 40, temperature: 0 } });
    const base = (await router.ask<GenerateResult>(address, ModelMessage.Generate, request)).text;
    const stream = router.stream(address, ModelMessage.Generate, request, { highWaterMark: 1 });
    const iterator = stream[Symbol.asyncIterator]();
    let text = '';
    const first = await iterator.next();
    text += first.done ? '' : (first.value.content ?? '');
    // Switch the model to the adapter while the stream holds its slot on the base context.
    const listing = await router.ask<AdapterListing>(address, ModelMessage.ApplyAdapter, { path: adapters.valid });
    expect(listing.contexts.map((c) => c.adapters.length).sort()).toEqual([0, 1]);
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      if (step.value.type === 'token') text += step.value.content ?? '';
    }
    expect(text).toBe(base);
    const adapted = (await router.ask<GenerateResult>(address, ModelMessage.Generate, request)).text;
    expect(adapted).not.toBe(base);
    // The base context was freed once its last stream ended.
    const after = await router.ask<ModelStatus>(address, ModelMessage.Status, null);
    expect(after.contexts).toBe(1);
  });

  it('requests naming the same adapter set share one context; contexts are bounded', async () => {
    const { router, address } = await setup({ maxContexts: 1 });
    const withAdapter = greedy({ adapters: [{ path: adapters.valid }] });
    await expect(router.ask(address, ModelMessage.Generate, withAdapter)).rejects.toMatchObject({
      code: AdapterErrorCode.AdapterContextsFull,
      message: "adapter contexts full: 1 in use (busy, or the model's own adapter set), limit 1 (maxContexts)",
    });
    const two = await setup({ maxContexts: 2, adapterContextIdleMs: 60_000 });
    const results = await Promise.all([1, 2, 3].map(() => two.router.ask<GenerateResult>(two.address, ModelMessage.Generate, withAdapter)));
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    const listing = await two.router.ask<AdapterListing>(two.address, ModelMessage.ListAdapters, null);
    expect(listing.contexts).toHaveLength(2);
    expect(listing.contexts.find((c) => !c.isDefault)?.adapters).toEqual([{ path: adapters.valid, scale: 1 }]);
  });

  it('bad adapters are refused with typed errors and leave the set and other streams alone', async () => {
    const { router, address } = await setup();
    const base = (await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text;
    const running = router.ask<GenerateResult>(address, ModelMessage.Generate, greedy({ params: { maxTokens: 40, temperature: 0 } }));
    await expect(router.ask(address, ModelMessage.ApplyAdapter, { path: adapters.badShape })).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
    });
    await expect(router.ask(address, ModelMessage.ApplyAdapter, { path: '/nonexistent.gguf' })).rejects.toMatchObject({
      code: AdapterErrorCode.AdapterFileNotFound,
    });
    await expect(router.ask(address, ModelMessage.Generate, greedy({ adapters: [{ path: adapters.badShape }] }))).rejects.toMatchObject({
      code: AdapterErrorCode.IncompatibleAdapter,
    });
    await expect(router.ask(address, ModelMessage.RemoveAdapter, { path: adapters.valid })).rejects.toMatchObject({
      code: AdapterErrorCode.AdapterNotApplied,
      message: `adapter ${adapters.valid} is not applied (applied: none)`,
    });
    await expect(router.ask(address, ModelMessage.ApplyAdapter, { path: adapters.valid, scale: Number.NaN })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect((await running).finishReason).toBe('length');
    const listing = await router.ask<AdapterListing>(address, ModelMessage.ListAdapters, null);
    expect(listing.applied).toEqual([]);
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text).toBe(base);
  });

  it('a model can start with an adapter set', async () => {
    const plain = await setup();
    const adapted = (await plain.router.ask<GenerateResult>(plain.address, ModelMessage.Generate, greedy({ adapters: [{ path: adapters.valid }] }))).text;
    const { router, address } = await setup({ adapters: [{ path: adapters.valid }] });
    expect((await router.ask<GenerateResult>(address, ModelMessage.Generate, greedy())).text).toBe(adapted);
  });
});
