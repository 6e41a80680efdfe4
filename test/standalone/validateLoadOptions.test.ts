import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  address,
  EntityCollection,
  EntityErrorCode,
  InvalidEntityError,
  MemoryStore,
  MessageRouter,
  type ModelLoadOptions,
  ModelManager,
  validateLoadOptions,
} from '../../src/index.js';
import { httpStatus } from '../../src/server/httpErrors.js';

/** The error `run` throws, or a failure if it returns. */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('validateLoadOptions', () => {
  it('accepts every option at the ends of its range', () => {
    const everything: ModelLoadOptions = {
      slots: 64,
      maxQueue: 0,
      contextSize: 16,
      batchSize: 1,
      threads: 1,
      flashAttention: 'auto',
      gpuLayers: 'max',
      engine: 'native',
      defaultParams: { temperature: 0, maxTokens: 10, stop: ['\n'] },
      embeddings: false,
      reuseKvCache: true,
      adapters: [{ path: 'adapters/a.gguf' }, { path: 'adapters/b.gguf', scale: -0.5 }],
      maxContexts: 1,
      adapterContextIdleMs: 2 ** 31 - 1,
    };
    expect(validateLoadOptions(everything)).toEqual(everything);
    for (const good of [
      {},
      { slots: 1, threads: 1024, contextSize: 1_048_576, batchSize: 1_048_576 },
      { gpuLayers: 'auto' as const, flashAttention: true, engine: 'auto' as const },
      { engine: 'node-llama-cpp' as const },
      { gpuLayers: 0, flashAttention: false, maxQueue: 1_000_000, adapterContextIdleMs: 0, maxContexts: 64 },
      { adapters: [], defaultParams: {} },
      { slots: undefined },
    ]) {
      expect(validateLoadOptions(good)).toBe(good);
    }
  });

  it('refuses a bad value with INVALID_ENTITY naming the field, the value and the range', () => {
    const cases: Array<[unknown, string]> = [
      [{ threads: 0 }, 'load.threads must be an integer from 1 to 1024, got 0'],
      [{ threads: -5 }, 'load.threads must be an integer from 1 to 1024, got -5'],
      [{ threads: 1025 }, 'load.threads must be an integer from 1 to 1024, got 1025'],
      [{ contextSize: 1e9 }, 'load.contextSize must be an integer from 16 to 1048576, got 1000000000'],
      [{ contextSize: 15 }, 'load.contextSize must be an integer from 16 to 1048576, got 15'],
      [{ slots: 0 }, 'load.slots must be an integer from 1 to 64, got 0'],
      [{ slots: 65 }, 'load.slots must be an integer from 1 to 64, got 65'],
      [{ slots: 2.5 }, 'load.slots must be an integer from 1 to 64, got 2.5'],
      [{ slots: '4' }, 'load.slots must be an integer from 1 to 64, got "4"'],
      [{ slots: Number.NaN }, 'load.slots must be an integer from 1 to 64, got NaN'],
      [{ slots: null }, 'load.slots must be an integer from 1 to 64, got null'],
      [{ batchSize: 0 }, 'load.batchSize must be an integer from 1 to 1048576, got 0'],
      [{ maxQueue: -1 }, 'load.maxQueue must be an integer of at least 0, got -1'],
      [{ maxQueue: Number.POSITIVE_INFINITY }, 'load.maxQueue must be an integer of at least 0, got Infinity'],
      [{ flashAttention: 'yes' }, `load.flashAttention must be true, false or 'auto', got "yes"`],
      [{ engine: 'llama.cpp' }, `load.engine must be 'auto', 'native' or 'node-llama-cpp', got "llama.cpp"`],
      [{ gpuLayers: -1 }, `load.gpuLayers must be 'auto', 'max' or an integer of at least 0, got -1`],
      [{ gpuLayers: 'all' }, `load.gpuLayers must be 'auto', 'max' or an integer of at least 0, got "all"`],
      [{ embeddings: 'true' }, 'load.embeddings must be true or false, got "true"'],
      [{ reuseKvCache: 1 }, 'load.reuseKvCache must be true or false, got 1'],
      [{ maxContexts: 0 }, 'load.maxContexts must be an integer from 1 to 64, got 0'],
      [{ adapterContextIdleMs: 2 ** 31 }, 'load.adapterContextIdleMs must be an integer from 0 to 2147483647, got 2147483648'],
      [{ adapters: 'style.gguf' }, 'load.adapters must be an array of { path: string, scale?: number }, got "style.gguf"'],
      [{ adapters: [{}] }, 'load.adapters must be an array of { path: string, scale?: number }, got [{}]: [0].path must be a non-empty string, got undefined'],
      [{ adapters: [{ path: 'a', scale: '1' }] }, '[0].scale must be a number from -10 to 10, got "1"'],
      [{ adapters: [{ path: 'a' }, { path: 'b', scale: Number.POSITIVE_INFINITY }] }, '[1].scale must be a number from -10 to 10, got Infinity'],
      [{ adapters: [{ path: 'a', scale: 1e6 }] }, '[0].scale must be a number from -10 to 10, got 1000000'],
      [{ adapters: [{ path: 'a', weight: 2 }] }, '[0] has unknown key weight'],
      [{ adapters: [null] }, '[0] is null'],
      [{ defaultParams: 5 }, 'load.defaultParams must be an object of generation parameters, got 5'],
      [{ defaultParams: { temperature: 5 } }, 'load.defaultParams must be an object of generation parameters, got {"temperature":5}: invalid parameter temperature: 5 is outside 0..2'],
      [{ defaultParams: { max_tokens: 5 } }, 'invalid parameter max_tokens: unknown parameter'],
      [{ thread: 2 }, 'load.thread is not a load option; known: slots, maxQueue, contextSize, batchSize, threads, flashAttention, gpuLayers, engine'],
      [{ modelPath: '/etc/passwd' }, 'load.modelPath is not a load option'],
      [null, 'load must be an object of load options, got null'],
      [[], 'load must be an object of load options, got []'],
      ['fast', 'load must be an object of load options, got "fast"'],
    ];
    for (const [load, message] of cases) {
      const error = thrown(() => validateLoadOptions(load));
      expect(error, JSON.stringify(load)).toBeInstanceOf(InvalidEntityError);
      expect(error).toMatchObject({ code: EntityErrorCode.InvalidEntity });
      expect(error.message).toContain(message);
      expect(httpStatus(error)).toBe(400);
    }
  });

  it('keeps long values short in its messages', () => {
    const error = thrown(() => validateLoadOptions({ flashAttention: 'x'.repeat(10_000) }));
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('ModelManager.publishModel', () => {
  const routers: MessageRouter[] = [];
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((router) => router.dispose()));
  });

  async function setup() {
    const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
    routers.push(router);
    const store = new MemoryStore();
    const models = new ModelManager({ router, store });
    await models.publishProvider({ id: 'local', kind: 'local-llama' });
    return { store, models };
  }

  it('refuses bad load options at publish time and stores nothing', async () => {
    const { store, models } = await setup();
    const bad = { id: 'tiny', provider: address('local'), path: 'models/tiny.gguf', load: { threads: -5, contextSize: 1e9 } };
    await expect(models.publishModel(bad as never)).rejects.toMatchObject({
      code: EntityErrorCode.InvalidEntity,
      message: 'load.threads must be an integer from 1 to 1024, got -5',
    });
    await expect(models.publishModel({ ...bad, load: { contextSize: 1e9 } })).rejects.toThrow(
      'load.contextSize must be an integer from 16 to 1048576, got 1000000000',
    );
    expect(await store.list(EntityCollection.Models)).toEqual([]);
  });

  it('stores good load options as given', async () => {
    const { models } = await setup();
    const load: ModelLoadOptions = { slots: 2, threads: 1, contextSize: 512, gpuLayers: 0, defaultParams: { temperature: 0.2 } };
    await models.publishModel({ id: 'tiny', provider: address('local'), path: 'models/tiny.gguf', load });
    expect((await models.getModel('tiny')).load).toEqual(load);
    await models.publishModel({ id: 'bare', provider: address('local'), path: 'models/tiny.gguf' });
    expect((await models.getModel('bare')).load).toBeUndefined();
  });
});
