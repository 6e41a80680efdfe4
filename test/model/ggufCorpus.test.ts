/**
 * Broken GGUF files must be typed errors, never a dead process. Several of these files make
 * llama.cpp GGML_ASSERT and abort the whole process when it loads them unchecked (a head count
 * of 0, a block count past LLAMA_MAX_LAYERS, no tokens); here they go through a ModelActor, so if
 * one got past `checkModelFile` to llama.cpp this test worker would die and the run fail.
 */
import { mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoModel, ensureTinyModel } from '../../scripts/make-models.js';
import { type CorruptModel, loadCorruptModels } from '../../scripts/models/corruptModels.js';
import { ggmlTypeTraits } from '../../src/gguf/checkModelFile.js';
import {
  checkModelFile,
  ErrorCode,
  MessageRouter,
  ModelActor,
  ModelErrorCode,
  ModelLifecycleState,
  ModelMessage,
  type TokenStreamEvent,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

let llama: Llama;
let tinyPath: string;
let corpus: CorruptModel[];
let dir: string;

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
  corpus = await loadCorruptModels(tinyPath);
  dir = await mkdtemp(join(tmpdir(), 'llama-actors-gguf-corpus-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes one broken file, runs `use` on it, removes it: the corpus takes one file of disk at a time. */
async function withFile<T>(model: CorruptModel, use: (path: string) => Promise<T>): Promise<T> {
  const path = join(dir, `${model.name}.gguf`);
  await writeFile(path, model.make());
  try {
    return await use(path);
  } finally {
    await rm(path, { force: true });
  }
}

describe('crafted GGUF files', () => {
  it('each one is a typed INVALID_MODEL_FILE naming the key or tensor, while a stream on a good model goes on', async () => {
    const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
    try {
      const good = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 512, slots: 2 });
      const goodAddress = router.registerActor('good', good, good.actorOptions);
      await good.load();
      const maxTokens = corpus.length + 40;
      // highWaterMark 1: the producer only runs ahead by one event, so each read below is a token
      // decoded after the previous broken file was refused.
      const stream = router.stream(goodAddress, ModelMessage.Generate, { prompt: 'the actor', params: { maxTokens, temperature: 0 } }, { highWaterMark: 1 });
      const events = stream[Symbol.asyncIterator]();
      const read = async (): Promise<TokenStreamEvent> => (await events.next()).value as TokenStreamEvent;
      expect((await read()).type).toBe('token');

      const failures: string[] = [];
      for (const [index, crafted] of corpus.entries()) {
        await withFile(crafted, async (path) => {
          const model = new ModelActor({ modelPath: path, llama, threads: 1, contextSize: 256, slots: 1 });
          const id = `bad-${index}`;
          router.registerActor(id, model, model.actorOptions);
          const error = await model.load().then(() => new Error('loaded'), (e: unknown) => e as Error);
          const asked = await router.ask(id, ModelMessage.Generate, { prompt: 'hi' }).then(() => new Error('answered'), (e: unknown) => e as Error);
          const message = error.message;
          if ((error as { code?: string }).code !== ModelErrorCode.InvalidModelFile || !message.includes(crafted.expect)) {
            failures.push(`${crafted.name}: expected INVALID_MODEL_FILE with "${crafted.expect}", got ${(error as { code?: string }).code}: ${message}`);
          }
          expect(message).not.toMatch(/root:x|GGUX/); // the file's bytes are never quoted
          expect(asked).toMatchObject({ code: ModelErrorCode.InvalidModelFile });
          expect(model.state).toBe(ModelLifecycleState.Failed);
          expect(router.status(id)).toBe('running');
          await router.unregisterActor(id);
        });
        const event = await read();
        expect(event.type, `the good stream after ${crafted.name}`).toBe('token');
      }
      expect(failures).toEqual([]);

      let last: TokenStreamEvent | undefined;
      for (let event = await events.next(); !event.done; event = await events.next()) last = event.value as TokenStreamEvent;
      expect(last).toMatchObject({ type: 'done', finishReason: 'length' });
      expect((await stream).tokenCount).toBe(maxTokens);
    } finally {
      await router.dispose();
    }
  });

  it('the corpus covers every place a file can break, and stays small', () => {
    const names = corpus.map((c) => c.name);
    for (const name of ['empty', 'wrong-magic', 'version-1', 'truncated-in-header', 'truncated-in-metadata', 'truncated-in-tensor-infos', 'truncated-in-data']) {
      expect(names).toContain(name);
    }
    // Files that aborted llama.cpp when loaded unchecked (node-llama-cpp 3.22.1's prebuilt binary).
    for (const name of ['attention-head_count-zero', 'block_count-zero', 'block-count-513', 'no-tokens', 'expert-count-1025', 'value-length-zero']) {
      expect(names).toContain(name);
    }
    const largest = Math.max(...corpus.map((c) => c.make().length));
    expect(largest).toBeLessThan(1 << 20);
  });
});

describe('checkModelFile', () => {
  it('accepts the generated models, and a file of many GB with a good header without reading its data', async () => {
    await checkModelFile(tinyPath);
    await checkModelFile(await ensureDemoModel());
    // A sparse copy of the tiny model grown to 8 GiB: valid (the data is inside), and the check
    // must not take longer than reading a header does.
    const big = join(dir, 'sparse.gguf');
    await writeFile(big, await readFile(tinyPath));
    const handle = await open(big, 'r+');
    await handle.truncate(8 * 2 ** 30);
    await handle.close();
    try {
      const started = performance.now();
      await checkModelFile(big);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await rm(big, { force: true });
    }
  });

  it('keeps MODEL_FILE_NOT_FOUND for a missing file and stops when aborted', async () => {
    await expect(checkModelFile(join(dir, 'missing.gguf'))).rejects.toMatchObject({ code: ModelErrorCode.ModelFileNotFound });
    await expect(checkModelFile(dir)).rejects.toMatchObject({ code: ModelErrorCode.InvalidModelFile, message: expect.stringContaining('not a regular file') });
    await expect(checkModelFile(tinyPath, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });

  it('never quotes the file: a link to /etc/passwd is refused without a byte of it', async () => {
    const link = join(dir, 'passwd.gguf');
    await symlink('/etc/passwd', link);
    try {
      const error = await checkModelFile(link).then(() => new Error('accepted'), (e: unknown) => e as Error);
      expect(error).toMatchObject({ code: ModelErrorCode.InvalidModelFile });
      expect(error.message).toBe(`not a GGUF model: ${link} (it does not start with the GGUF magic)`);
    } finally {
      await rm(link, { force: true });
    }
  });

  it("its ggml type table is the bundled llama.cpp's", () => {
    // node-llama-cpp's internal bindings answer with the binary's own type traits.
    const bindings = (llama as unknown as { _bindings: { getTypeSizeForGgmlType(t: number): number | null; getBlockSizeForGgmlType(t: number): number | null } })._bindings;
    for (let type = 0; type < 64; type++) {
      const typeSize = bindings.getTypeSizeForGgmlType(type);
      const blockSize = bindings.getBlockSizeForGgmlType(type);
      const binary = typeSize && blockSize ? [typeSize, blockSize] : undefined;
      expect(ggmlTypeTraits(type), `ggml type ${type}`).toEqual(binary);
    }
  });
});
