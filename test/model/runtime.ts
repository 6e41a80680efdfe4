import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import {
  address,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  type ModelLoadOptions,
  SessionManager,
} from '../../src/index.js';

/** What {@link createTestRuntime} publishes. */
export interface TestRuntimeOptions {
  llama: Llama;
  modelPath: string;
  providerId: string;
  modelId: string;
  load: ModelLoadOptions;
  /** The router's ask timeout. Defaults to the router's default. */
  askTimeout?: number;
}

/**
 * The seed's flow for tests: a silent router, a MemoryStore, a provider sharing the worker's one
 * Llama, a published model and a session manager. The caller disposes the router and the store.
 */
export async function createTestRuntime(options: TestRuntimeOptions) {
  const router = new MessageRouter({
    logger: pino({ level: 'silent' }),
    ...(options.askTimeout === undefined ? {} : { askTimeout: options.askTimeout }),
  });
  const store = new MemoryStore();
  const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama: options.llama })] });
  await models.publishProvider({ id: options.providerId, kind: 'local-llama' });
  await models.publishModel({ id: options.modelId, provider: address(options.providerId), path: options.modelPath, load: options.load });
  const sessions = new SessionManager({ router, store, models });
  return { router, store, models, sessions };
}
