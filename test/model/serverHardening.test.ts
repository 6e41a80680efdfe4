import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import type { ModelLoadOptions, ServerOptions } from '../../src/index.js';
import { startTestServer } from './helpers/testServer.js';

// Regression tests for the failures of issue 11, each found against a running server.

let tinyPath: string;
let outside: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
  outside = await mkdtemp(join(tmpdir(), 'llama-actors-outside-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await rm(outside, { recursive: true, force: true });
});

async function setup(load: ModelLoadOptions = {}, serverOptions: Partial<ServerOptions> = {}) {
  const server = await startTestServer(load, serverOptions);
  cleanups.push(server.dispose);
  return server;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string; type: string } }).error;

/** Sends raw bytes on a fresh connection; resolves with everything the server sent once it closes. */
function rawExchange(port: number, write: (socket: Socket) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.on('connect', () => write(socket));
  });
}

/** A POST written in full, then the socket destroyed after `delayMs` (before any answer). */
function hangUp(port: number, path: string, body: unknown, delayMs: number): Promise<void> {
  const text = JSON.stringify(body);
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, delayMs);
    });
    socket.on('error', () => {});
  });
}

/** Holds every model lookup of the store until `open()`: the request is then parked inside its handler. */
function gateModelLookups(store: { get: (...args: never[]) => Promise<unknown> }) {
  const original = store.get.bind(store) as (...args: unknown[]) => Promise<unknown>;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let reached: () => void = () => {};
  const entered = new Promise<void>((resolve) => {
    reached = resolve;
  });
  (store as { get: unknown }).get = async (...args: unknown[]) => {
    if (args[0] === 'models') {
      reached();
      await opened;
    }
    return original(...args);
  };
  return { entered, open };
}

/** Resolves once the server has no connection left (it has seen every hang-up). */
async function untilNoConnections(server: { app: { server: { getConnections(cb: (error: Error | null, count: number) => void): void } } }) {
  await expect
    .poll(() => new Promise<number>((resolve) => server.app.server.getConnections((_error, count) => resolve(count))), { timeout: 10_000 })
    .toBe(0);
}

describe('clients that hang up', () => {
  it('a streaming request whose client disconnects before the first byte releases its slot, on every route', async () => {
    const runtime = await setup({ slots: 2 });
    const { port, status, url, models, store, server } = runtime;
    await models.ensureStarted('tiny');
    // Each request is parked inside its handler (looking up the model) when its client hangs up:
    // before the fix the SSE writer attached its close listener only afterwards, waited for a
    // drain that could never come, and the generation kept its slot forever.
    const gate = gateModelLookups(store as never);
    await hangUp(port, '/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'go on' }], max_tokens: 300, stream: true }, 0);
    await hangUp(port, '/v1/completions', { model: 'tiny', prompt: 'go on', max_tokens: 300, stream: true }, 0);
    await gate.entered;
    await untilNoConnections(server);
    gate.open();
    // Both slots must serve the next requests (they would queue forever behind two stuck streams).
    const next = await Promise.all(
      [1, 2].map(() =>
        post(`${url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, {}, AbortSignal.timeout(30_000)),
      ),
    );
    expect(next.map((r) => r.status)).toEqual([200, 200]);
    expect((await status()).busySlots).toBe(0);
  });

  it('hang-ups at random moments on every streaming route leave every slot free', async () => {
    const { port, status, url, models } = await setup({ slots: 2 });
    await models.ensureStarted('tiny');
    const routes: Array<[string, unknown]> = [
      ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'go on' }], max_tokens: 300, stream: true }],
      ['/v1/completions', { model: 'tiny', prompt: 'go on', max_tokens: 300, stream: true }],
      ['/actors/model/tiny/stream', { type: 'generate', payload: { prompt: 'go on', params: { maxTokens: 300 } } }],
    ];
    for (const delay of [0, 1, 5, 20]) {
      await Promise.all(routes.flatMap(([path, body]) => [hangUp(port, path, body, delay), hangUp(port, path, body, delay)]));
    }
    await expect.poll(async () => (await status()).busySlots, { timeout: 20_000 }).toBe(0);
    expect((await status()).queueDepth).toBe(0);
    const ok = await post(`${url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 3 });
    expect(ok.status).toBe(200);
  });
});

describe('files', () => {
  it('training cannot write outside the allowed directories (nested outputPath / adapterPath)', async () => {
    const { url, models } = await setup();
    await models.ensureTuner('tiny');
    const victim = join(outside, 'victim.txt');
    await writeFile(victim, 'precious');
    for (const options of [{ outputPath: victim }, { adapterPath: join(outside, 'lora.gguf') }, { outputPath: join(outside, 'new', 'x.gguf') }]) {
      const response = await post(`${url}/actors/tuner/tiny/ask`, {
        type: 'startTraining',
        payload: { dataset: { conversations: [] }, options: { contextSize: 256, ...options } },
      });
      expect(response.status).toBe(403);
      expect((await errorOf(response)).code).toBe('PATH_NOT_ALLOWED');
    }
    expect(await readFile(victim, 'utf8')).toBe('precious');
  });

  it('symbolic links cannot lead out of the allowed directories, and a refusal leaks no content', async () => {
    const { url } = await setup();
    const modelsDir = dirname(tinyPath);
    const secret = join(outside, 'secret.gguf');
    await writeFile(secret, 'root:x:0:0');
    await mkdir(join(outside, 'dir'), { recursive: true });
    const links = [join(modelsDir, `link-${process.pid}.gguf`), join(modelsDir, `linkdir-${process.pid}`), join(modelsDir, `passwd-${process.pid}`)];
    await symlink(secret, links[0] as string);
    await symlink(join(outside, 'dir'), links[1] as string);
    await symlink('/etc/passwd', links[2] as string);
    cleanups.push(() => Promise.all(links.map((link) => rm(link, { force: true }))));
    for (const path of [links[0], join(links[1] as string, 'model.gguf'), links[2]]) {
      const published = await post(`${url}/models`, { id: 'linked', provider: 'local', path });
      expect(published.status).toBe(403);
      const error = await errorOf(published);
      expect(error.code).toBe('PATH_NOT_ALLOWED');
      expect(error.message).not.toContain('root');
    }
    const adapter = await post(`${url}/models/tiny/adapters`, { path: links[0] });
    expect(adapter.status).toBe(403);
  });
});

describe('the Host header', () => {
  it('only the names the server serves are answered (DNS rebinding); allowedHosts widens it', async () => {
    const { port } = await setup();
    const ask = (host: string) =>
      rawExchange(port, (socket) => socket.write(`GET /v1/models HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`));
    expect(await ask('evil.example')).toMatch(/^HTTP\/1\.1 403[\s\S]*"code":"HOST_NOT_ALLOWED"/);
    expect(await ask(`evil.example:${port}`)).toMatch(/^HTTP\/1\.1 403/);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
      expect(await ask(host)).toMatch(/^HTTP\/1\.1 200/);
    }
    const missing = await rawExchange(port, (socket) => socket.write('GET /v1/models HTTP/1.0\r\n\r\n'));
    expect(missing).toMatch(/^HTTP\/1\.[01] 403[\s\S]*HOST_NOT_ALLOWED/);

    const wide = await setup({}, { allowedHosts: ['llm.internal'] });
    const askWide = (host: string) =>
      rawExchange(wide.port, (socket) => socket.write(`GET /health HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`));
    expect(await askWide('llm.internal:1234')).toMatch(/^HTTP\/1\.1 200/);
    expect(await askWide('localhost')).toMatch(/^HTTP\/1\.1 200/);
    expect(await askWide('evil.example')).toMatch(/^HTTP\/1\.1 403/);
    const any = await setup({}, { allowedHosts: '*' });
    expect(await rawExchange(any.port, (socket) => socket.write('GET /health HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n'))).toMatch(
      /^HTTP\/1\.1 200/,
    );
  });
});

describe('slow and oversized clients', () => {
  it('slow headers, slow bodies and oversized headers are cut with a coded answer', async () => {
    const { port, url } = await setup({}, { limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 } });
    const slowHeaders = rawExchange(port, (socket) => {
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\n');
      const drip = setInterval(() => socket.writable && socket.write('x-drip: 1\r\n'), 100);
      socket.on('close', () => clearInterval(drip));
    });
    const slowBody = rawExchange(port, (socket) => {
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      const drip = setInterval(() => socket.writable && socket.write(' '), 100);
      socket.on('close', () => clearInterval(drip));
    });
    const [headers, body] = await Promise.all([slowHeaders, slowBody]);
    expect(headers).toMatch(/^HTTP\/1\.1 408[\s\S]*"code":"REQUEST_TIMEOUT"/);
    expect(body).toMatch(/^HTTP\/1\.1 408[\s\S]*"code":"REQUEST_TIMEOUT"/);

    const big = await rawExchange(port, (socket) => socket.write(`GET /health HTTP/1.1\r\nhost: localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(big).toMatch(/^HTTP\/1\.1 431[\s\S]*"code":"HEADERS_TOO_LARGE"/);
    expect((await fetch(`${url}/health`)).status).toBe(200); // and the server still serves
  });
});

describe('overload and errors before the first byte', () => {
  it('streaming requests over slots + queue get 503 + Retry-After, not a 200 with an error event', async () => {
    const { url, models } = await setup({ slots: 1, maxQueue: 0 });
    await models.ensureStarted('tiny');
    const holder = await post(`${url}/actors/model/tiny/stream`, { type: 'generate', payload: { prompt: 'long', params: { maxTokens: 400 } } });
    const reader = holder.body?.getReader();
    await reader?.read(); // the one slot is taken
    for (const [path, body] of [
      ['/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'x' }], stream: true }],
      ['/v1/completions', { model: 'tiny', prompt: 'x', stream: true }],
      ['/actors/model/tiny/stream', { type: 'generate', payload: { prompt: 'x' } }],
    ] as const) {
      const refused = await post(`${url}${path}`, body);
      expect([path, refused.status, refused.headers.get('retry-after')]).toEqual([path, 503, '1']);
      expect((await errorOf(refused)).code).toBe('QUEUE_FULL');
    }
    await reader?.cancel();
    const badParam = await post(`${url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }], stream: true, temperature: -3 });
    expect([badParam.status, (await errorOf(badParam)).code]).toEqual([400, 'INVALID_ARGUMENT']);
    const unknown = await post(`${url}/actors/nobody/stream`, { type: 'generate', payload: {} });
    expect([unknown.status, (await errorOf(unknown)).code]).toEqual([404, 'ACTOR_NOT_FOUND']);
  });

  it('every error has the documented shape and code: long ids, bad URLs, deep bodies, Expect, missing sessions, bad model files', async () => {
    const { url, port, models } = await setup();
    const cases: Array<[Promise<Response>, number, string]> = [
      [fetch(`${url}/sessions/${'a'.repeat(300)}`), 400, 'INVALID_ADDRESS'],
      [fetch(`${url}/sessions/%E0%A4%A`), 400, 'MALFORMED_REQUEST'],
      [fetch(`${url}/sessions/nope`, { method: 'DELETE' }), 404, 'ENTITY_NOT_FOUND'],
      [fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<hi/>' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    for (const [pending, status, code] of cases) {
      const response = await pending;
      expect(response.headers.get('content-type')).toContain('application/json');
      const error = await errorOf(response);
      expect([response.status, error.code]).toEqual([status, code]);
      expect(error.message.length).toBeGreaterThan(0);
    }
    // 10 000 levels parse, but describing such a value overflowed the stack: a 500 and an actor restart.
    const deep = `{"model":"tiny","messages":[{"role":${'['.repeat(10_000)}${']'.repeat(10_000)},"content":"x"}]}`;
    const nested = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    expect([nested.status, (await errorOf(nested)).message]).toEqual([400, 'request body nests more than 64 levels deep']);
    const expectation = await rawExchange(port, (socket) =>
      socket.write('POST /v1/models HTTP/1.1\r\nhost: localhost\r\nexpect: 200-ok\r\ncontent-length: 0\r\n\r\n'),
    );
    expect(expectation).toMatch(/^HTTP\/1\.1 417[\s\S]*"code":"EXPECTATION_FAILED"/);
    // Found by the soak: this held a slot forever (logits overflowed, a grammar sampler never ended).
    await models.ensureStarted('tiny');
    const degenerate = await post(`${url}/actors/model/tiny/ask`, {
      type: 'generate',
      payload: { prompt: 'o', params: { maxTokens: 3, topK: 0, minP: 0, repeatPenalty: { penalty: 1.6873695822453927e-85, lastTokens: 80 }, jsonSchema: { type: 'string', maxLength: 3 } } },
    });
    expect([degenerate.status, (await errorOf(degenerate)).code]).toEqual([400, 'INVALID_PARAMETER']);
    // A bad file the user named is the user's mistake: 400, not 500.
    const junk = join(dirname(tinyPath), `junk-${process.pid}.gguf`);
    await writeFile(junk, 'this is not a model at all');
    cleanups.push(() => rm(junk, { force: true }));
    expect((await post(`${url}/models`, { id: 'junk', provider: 'local', path: junk })).status).toBe(201);
    const chat = await post(`${url}/v1/chat/completions`, { model: 'junk', messages: [{ role: 'user', content: 'x' }] });
    expect([chat.status, (await errorOf(chat)).code]).toEqual([400, 'INVALID_MODEL_FILE']);
  });
});

describe('the API key', () => {
  it('is checked in constant time: right, wrong, empty, other length, other scheme', async () => {
    const { url } = await setup({}, { apiKey: 'sekret' });
    const status = async (authorization?: string) =>
      (await fetch(`${url}/v1/models`, authorization === undefined ? {} : { headers: { authorization } })).status;
    expect(await status('Bearer sekret')).toBe(200);
    for (const wrong of [undefined, '', 'Bearer ', 'Bearer sekreT', 'Bearer sekret2', 'Basic sekret', 'sekret']) {
      expect([wrong, await status(wrong)]).toEqual([wrong, 401]);
    }
  });
});
