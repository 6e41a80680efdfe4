/**
 * The failures a remote provider answers that llama-server and llama-actors do not produce on
 * demand (429 with Retry-After, 5xx, a stream cut mid-way, a context overflow in each server's
 * words), from a plain HTTP server this test runs: what the RemoteModelActor retries, how long it
 * waits, and which typed error each becomes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageRouter, ModelMessage, modelProtocol, RemoteModelActor, type RemoteModelOptions } from '../../src/index.js';

type Handler = (request: IncomingMessage, response: ServerResponse, attempt: number) => void;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP server answering every request with `handler`; resolves with its base URL and the requests it got. */
async function upstream(handler: Handler): Promise<{ baseURL: string; requests: () => number }> {
  let count = 0;
  const server: Server = createServer((request, response) => {
    count += 1;
    const attempt = count;
    request.resume();
    request.on('end', () => handler(request, response, attempt));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  server.on('connection', (socket) => cleanups.push(async () => void socket.destroy()));
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests: () => count };
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function chunk(content: string, finish: string | null = null): string {
  const body = { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] };
  return `data: ${JSON.stringify(body)}\n\n`;
}

function stream(response: ServerResponse, pieces: string[]): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const [i, piece] of pieces.entries()) response.write(chunk(piece, i === pieces.length - 1 ? 'stop' : null));
  response.end('data: [DONE]\n\n');
}

function remote(baseURL: string, options: Partial<RemoteModelOptions> = {}) {
  const router = new MessageRouter();
  cleanups.push(() => router.dispose());
  const actor = new RemoteModelActor({ baseURL, model: 'm', maxRetryDelayMs: 1_000, ...options });
  return router.ref(router.registerActor('model/m', actor, actor.actorOptions), modelProtocol);
}

const CHAT = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('RemoteModelActor: upstream failures', () => {
  it('a 429 is retried after the remote asks (retry-after-ms), then the stream goes on', async () => {
    const server = await upstream((_request, response, attempt) =>
      attempt === 1 ? json(response, 429, { error: { message: 'slow down' } }, { 'retry-after-ms': '30' }) : stream(response, ['a', 'b']),
    );
    const model = remote(server.baseURL);
    const result = await model.ask(ModelMessage.Generate, CHAT);
    expect(result.text).toBe('ab');
    expect(server.requests()).toBe(2);
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 2, retries: 1, failures: 0 });
  });

  it('a first try that gets no answer at all (a kept-alive connection the remote closed) is tried again at once, even with maxRetries 0', async () => {
    const server = await upstream((_request, response, attempt) => (attempt === 1 ? response.socket?.destroy() : stream(response, ['o', 'k'])));
    const model = remote(server.baseURL, { maxRetries: 0 });
    expect((await model.ask(ModelMessage.Generate, CHAT)).text).toBe('ok');
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 2, retries: 1, failures: 0 });
    // Only once: a remote that keeps hanging up is PROVIDER_UNAVAILABLE after that one extra try.
    const hangsUp = await upstream((_request, response) => response.socket?.destroy());
    await expect(remote(hangsUp.baseURL, { maxRetries: 0 }).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(hangsUp.requests()).toBe(2);
  });

  it('embed, tokenize and info: a first try that gets no answer is sent once more at once (seen on CI: llama-server closed the kept-alive connection)', async () => {
    const answers: Record<string, unknown> = {
      '/v1/embeddings': { object: 'list', model: 'm', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }], usage: { prompt_tokens: 1, total_tokens: 1 } },
      '/tokenize': { tokens: [7, 8] },
      '/v1/models': { object: 'list', data: [{ id: 'm', object: 'model', meta: { n_ctx_train: 321 } }] },
    };
    const hungUp = new Set<string>();
    const server = await upstream((request, response) => {
      const path = request.url ?? '';
      if (!hungUp.has(path)) {
        hungUp.add(path);
        response.socket?.destroy();
        return;
      }
      if (path in answers) json(response, 200, answers[path]);
      else json(response, 404, { error: { message: `no ${path}` } });
    });
    const model = remote(server.baseURL, { maxRetries: 0 });
    expect(await model.ask(ModelMessage.Embed, { input: 'hi' })).toEqual({ embeddings: [[0.5, -0.25]], dimensions: 2, promptTokens: 1 });
    expect((await model.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 2, retries: 1, failures: 0 });
    expect(await model.ask(ModelMessage.Tokenize, { text: 'hi' })).toEqual({ tokens: [7, 8] });
    expect((await model.ask(ModelMessage.Info, null)).trainContextSize).toBe(321);
    expect([...hungUp].sort()).toEqual(['/props', '/tokenize', '/v1/embeddings', '/v1/models']);
    // Only once: a remote that keeps hanging up is PROVIDER_UNAVAILABLE after that one extra try.
    const hangsUp = await upstream((_request, response) => response.socket?.destroy());
    const failing = remote(hangsUp.baseURL, { maxRetries: 0 });
    await expect(failing.ask(ModelMessage.Embed, { input: 'hi' })).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(hangsUp.requests()).toBe(2);
    expect((await failing.ask(ModelMessage.Status, null)).remote).toMatchObject({ requests: 2, retries: 1, failures: 1 });
  });

  it('a Retry-After longer than maxRetryDelayMs fails at once with RATE_LIMITED naming it', async () => {
    const server = await upstream((_request, response) => json(response, 429, { error: { message: 'quota' } }, { 'retry-after': '3600' }));
    const model = remote(server.baseURL);
    await expect(model.ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: 3_600_000,
      message: expect.stringMatching(/after 1 attempt \(Retry-After 3600 s\): the wait asked for is longer than maxRetryDelayMs 1000/),
    });
    expect(server.requests()).toBe(1);
  });

  it('429 on every try: RATE_LIMITED after maxRetries + 1 attempts', async () => {
    const server = await upstream((_request, response) => json(response, 429, { error: { message: 'busy' } }, { 'retry-after-ms': '5' }));
    const model = remote(server.baseURL, { maxRetries: 2 });
    await expect(model.ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({ code: 'RATE_LIMITED', kind: 'overloaded', message: expect.stringMatching(/after 3 attempts .*: busy/) });
    expect(server.requests()).toBe(3);
  });

  it('an abort during the wait before a retry ends the request at once (ABORTED), with no further try', async () => {
    let first: () => void = () => {};
    const asked = new Promise<void>((resolve) => (first = resolve));
    const server = await upstream((_request, response) => {
      json(response, 429, { error: { message: 'later' } }, { 'retry-after': '60' });
      first();
    });
    const model = remote(server.baseURL, { maxRetryDelayMs: 120_000 });
    const controller = new AbortController();
    const pending = model.ask(ModelMessage.Generate, CHAT, { signal: controller.signal });
    await asked;
    // Waiting to retry now (the retry is counted as its wait begins).
    for (let i = 0; i < 100 && (await model.ask(ModelMessage.Status, null)).remote?.retries !== 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    // The caller's promise settles at the abort; the actor's side lets go of its place as it unwinds.
    let status = (await model.ask(ModelMessage.Status, null)).remote;
    for (let i = 0; i < 50 && status?.inFlight !== 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      status = (await model.ask(ModelMessage.Status, null)).remote;
    }
    expect(status).toMatchObject({ inFlight: 0, failures: 0 });
    expect(server.requests()).toBe(1);
  });

  it('5xx: a 503 is retried, a 500 is not; each ends as PROVIDER_UNAVAILABLE with the status and message', async () => {
    const busy = await upstream((_request, response) => json(response, 503, { error: { message: 'warming up' } }, { 'retry-after-ms': '1' }));
    await expect(remote(busy.baseURL, { maxRetries: 1 }).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      upstreamStatus: 503,
      message: expect.stringMatching(/unavailable: 503 warming up/),
    });
    expect(busy.requests()).toBe(2);
    const broken = await upstream((_request, response) => json(response, 500, { error: { message: 'segfault' } }));
    await expect(remote(broken.baseURL).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE', upstreamStatus: 500 });
    expect(broken.requests()).toBe(1);
  });

  it('a stream cut mid-way is PROVIDER_UNAVAILABLE after the tokens that came, never retried', async () => {
    const server = await upstream((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('a'));
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const events = [];
    for await (const event of remote(server.baseURL).stream(ModelMessage.Generate, CHAT)) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['token', 'error']);
    expect(events[1]).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(server.requests()).toBe(1);
  });

  it('a remote that goes silent mid-stream for timeoutMs is PROVIDER_TIMEOUT after the tokens that came; a slow consumer is not silence', async () => {
    const silent = await upstream((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('a'));
    });
    const events = [];
    for await (const event of remote(silent.baseURL, { timeoutMs: 150 }).stream(ModelMessage.Generate, CHAT)) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['token', 'error']);
    expect(events[1]).toMatchObject({ code: 'PROVIDER_TIMEOUT', error: expect.stringMatching(/sent nothing for 150 ms mid-stream/) });

    const quick = await upstream((_request, response) => stream(response, ['x', 'y', 'z']));
    const seen: string[] = [];
    for await (const event of remote(quick.baseURL, { timeoutMs: 150 }).stream(ModelMessage.Generate, CHAT, { highWaterMark: 1 })) {
      if (event.type === 'token') {
        seen.push(event.content ?? '');
        // Longer than timeoutMs: the remote has sent everything, the consumer is the slow one.
        if (seen.length === 1) await new Promise((resolve) => setTimeout(resolve, 400));
      } else expect(event.type).toBe('done');
    }
    expect(seen.join('')).toBe('xyz');
  });

  it("a prompt over the remote's context is PROMPT_TOO_LONG with its numbers, in llama-server's and vLLM's words; 404 is MODEL_NOT_FOUND", async () => {
    const llamaServer = await upstream((_request, response) =>
      json(response, 400, { error: { code: 400, message: 'the request exceeds the available context size', type: 'exceed_context_size_error', n_prompt_tokens: 900, n_ctx: 512 } }),
    );
    await expect(remote(llamaServer.baseURL).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG', promptTokens: 900, contextSize: 512 });
    const vllm = await upstream((_request, response) =>
      json(response, 400, { error: { message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens in the messages.", type: 'BadRequestError', param: null, code: 400 } }),
    );
    await expect(remote(vllm.baseURL).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG', promptTokens: 5000, contextSize: 4096 });
    const missing = await upstream((_request, response) => json(response, 404, { error: { message: 'The model `m` does not exist.' } }));
    await expect(remote(missing.baseURL).ask(ModelMessage.Generate, CHAT)).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringMatching(/has no model m: 404 The model `m` does not exist/),
    });
  });
});
