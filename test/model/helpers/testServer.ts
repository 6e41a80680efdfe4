import { dirname } from 'node:path';
import { ensureTinyModel } from '../../../scripts/make-models.js';
import { createServer, type ModelLoadOptions, ModelMessage, type ModelStatus, type ServerOptions } from '../../../src/index.js';
import { getTestLlama } from '../llama.js';
import { createTestRuntime } from '../runtime.js';

/**
 * A server in front of the tiny model (model id `tiny`, provider `local`) on the worker's one
 * Llama, a MemoryStore and a free port, with `models/` as the only directory requests may name.
 * `dispose()` closes the router (generations end, the model is freed), the server and the store.
 */
export async function startTestServer(load: ModelLoadOptions = {}, serverOptions: Partial<ServerOptions> = {}) {
  const tinyPath = await ensureTinyModel();
  const { router, store, models, sessions } = await createTestRuntime({
    llama: await getTestLlama(),
    modelPath: tinyPath,
    providerId: 'local',
    modelId: 'tiny',
    load: { slots: 2, threads: 1, contextSize: 512, ...load },
  });
  const server = createServer({ router, models, sessions, store, port: 0, modelDirs: [dirname(tinyPath)], ...serverOptions });
  const url = await server.listen();
  const status = (model = 'tiny') => router.ask<ModelStatus>(`model/${model}`, ModelMessage.Status, null);
  const connections = () => new Promise<number>((resolve) => server.app.server.getConnections((_error, count) => resolve(count)));
  const dispose = async () => {
    await router.dispose();
    await server.close();
    await store.dispose();
  };
  return { router, store, models, sessions, server, url, port: Number(new URL(url).port), status, connections, tinyPath, modelsDir: dirname(tinyPath), dispose };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** One short chat completion on the tiny model: what a server that still serves answers with 200. */
export function chatStillServes(url: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3 }),
    signal: AbortSignal.timeout(30_000),
  });
}
