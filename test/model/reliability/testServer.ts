import { ensureTinyAdapters } from '../../../scripts/make-models.js';
import type { ModelLoadOptions, ServerOptions } from '../../../src/index.js';
import { startTestServer as startSharedTestServer } from '../helpers/testServer.js';

/**
 * The server the reliability tests attack: the model suite's shared test server (the tiny model
 * on the worker's one Llama, a MemoryStore, port 0, `models/` as the only directory paths may
 * name), plus the paths of the tiny model's LoRA adapters, which the fuzz names in bodies.
 */
export async function startTestServer(load: ModelLoadOptions = {}, serverOptions: Partial<ServerOptions> = {}) {
  const server = await startSharedTestServer(load, serverOptions);
  return { ...server, adapters: await ensureTinyAdapters() };
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** POSTs JSON with fetch (for the well-formed requests around the attacks). */
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
