import { dirname } from 'node:path';
import { ensureTinyAdapters, ensureTinyModel } from '../../../scripts/make-models.js';
import { createServer, type ModelLoadOptions, ModelMessage, type ModelStatus, type ServerOptions } from '../../../src/index.js';
import { getTestLlama } from '../llama.js';
import { createTestRuntime } from '../runtime.js';

/**
 * The server the reliability tests attack, built as test/model/serverHardening.test.ts builds
 * its own: the tiny model on the worker's shared Llama, a MemoryStore, port 0, `models/` as the
 * only directory paths may name. `dispose()` closes everything (call it in afterAll/afterEach).
 */
export async function startTestServer(load: ModelLoadOptions = {}, serverOptions: Partial<ServerOptions> = {}) {
  const llama = await getTestLlama();
  const tinyPath = await ensureTinyModel();
  const adapters = await ensureTinyAdapters();
  const { router, store, models, sessions } = await createTestRuntime({
    llama,
    modelPath: tinyPath,
    providerId: 'local',
    modelId: 'tiny',
    load: { slots: 2, threads: 1, contextSize: 512, ...load },
  });
  const server = createServer({ router, models, sessions, port: 0, modelDirs: [dirname(tinyPath)], ...serverOptions });
  const url = await server.listen();
  const port = Number(new URL(url).port);
  const status = (model = 'tiny') => router.ask<ModelStatus>(model, ModelMessage.Status, null);
  const connections = () => new Promise<number>((resolve) => server.app.server.getConnections((_error, count) => resolve(count)));
  const dispose = async () => {
    await router.dispose();
    await server.close();
    await store.dispose();
  };
  return { router, store, models, sessions, server, url, port, status, connections, tinyPath, adapters, modelsDir: dirname(tinyPath), dispose };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** POSTs JSON with fetch (for the normal, well-formed requests around the attacks). */
export function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** A normal chat completion: what every attack must leave the server able to answer. */
export async function normalChat(url: string, model = 'tiny'): Promise<{ status: number; finish?: string }> {
  const response = await postJson(`${url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3 }, AbortSignal.timeout(30_000));
  const body = (await response.json()) as { choices?: Array<{ finish_reason: string }> };
  return { status: response.status, ...(body.choices?.[0] ? { finish: body.choices[0].finish_reason } : {}) };
}

/** The resident set size in MiB. */
export const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;
