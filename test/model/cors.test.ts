import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  createServer,
  type LlamaActorsServer,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  type ServerOptions,
  SessionManager,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

/**
 * CORS: a page served from another origin (a second HTTP server on another port) calls the
 * server with `fetch` from headless Chromium: a chat completion with an `authorization` header,
 * so the browser sends a preflight first. Allowed origins read the answer; a refused one gets a
 * TypeError in the page. Plus the headers and preflight statuses, over plain fetch.
 */

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const KEY = 'cors-test-key';
const PAGE = '<!doctype html><html><head><title>other origin</title></head><body>another origin</body></html>';

let llama: Llama;
let browser: Browser;
let router: MessageRouter;
let models: ModelManager;
let sessions: SessionManager;
let modelDir: string;
let page: Server;
let pagePort: number;
const cleanups: Array<() => Promise<unknown>> = [];

async function serve(options: Partial<ServerOptions>): Promise<{ server: LlamaActorsServer; url: string }> {
  const server = createServer({ router, models, sessions, port: 0, modelDirs: [modelDir], ...options });
  const url = await server.listen();
  cleanups.push(() => server.close());
  return { server, url };
}

beforeAll(async () => {
  llama = await getTestLlama();
  const tinyPath = await ensureTinyModel();
  modelDir = dirname(tinyPath);
  router = new MessageRouter({ logger: pino({ level: 'silent' }) });
  const store = new MemoryStore();
  models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
  await models.publishProvider({ id: 'local', kind: 'local-llama' });
  await models.publishModel({ id: 'tiny', provider: address('local'), path: tinyPath, load: { slots: 1, threads: 1 } });
  sessions = new SessionManager({ router, store, models });
  // The other origin: a page on its own port, any path.
  page = createHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  pagePort = (page.address() as AddressInfo).port;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  cleanups.push(
    () => store.dispose(),
    () => router.dispose(),
    () => new Promise((resolve) => page.close(resolve)),
    () => browser.close(),
  );
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Opens `pageUrl` in Chromium and runs a keyed chat completion against `apiUrl` from it. */
async function completionFromPage(pageUrl: string, apiUrl: string): Promise<{ ok: true; status: number; content: string; retryAfter: string | null } | { ok: false; error: string }> {
  const tab = await browser.newPage();
  try {
    await tab.goto(pageUrl);
    return await tab.evaluate(
      async ({ apiUrl, key }) => {
        try {
          const response = await fetch(`${apiUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-stainless-lang': 'js' },
            body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0 }),
          });
          const body = (await response.json()) as { choices?: Array<{ message: { content: string } }> };
          return { ok: true as const, status: response.status, content: body.choices?.[0]?.message.content ?? '', retryAfter: response.headers.get('retry-after') };
        } catch (error) {
          return { ok: false as const, error: `${(error as Error).name}: ${(error as Error).message}` };
        }
      },
      { apiUrl, key: KEY },
    );
  } finally {
    await tab.close();
  }
}

describe('CORS from a page on another origin (Chromium)', () => {
  it('an allowed origin (configured) calls a keyed chat completion; the same page on a refused origin gets a TypeError', async () => {
    const { url } = await serve({ apiKey: KEY, cors: [`http://127.0.0.1:${pagePort}`] });
    const allowed = await completionFromPage(`http://127.0.0.1:${pagePort}/`, url);
    expect(allowed).toMatchObject({ ok: true, status: 200 });
    expect(allowed.ok && allowed.content.length).toBeGreaterThan(0);
    // Same page, another origin (localhost is not 127.0.0.1 to the browser): refused.
    const refused = await completionFromPage(`http://localhost:${pagePort}/`, url);
    expect(refused).toMatchObject({ ok: false });
    expect(!refused.ok && refused.error).toMatch(/^TypeError/);
  });

  it('the default allows loopback pages on any port; cors: false refuses them (no CORS at all)', async () => {
    const byDefault = await serve({ apiKey: KEY });
    expect(await completionFromPage(`http://localhost:${pagePort}/`, byDefault.url)).toMatchObject({ ok: true, status: 200 });
    expect(await completionFromPage(`http://127.0.0.1:${pagePort}/`, byDefault.url)).toMatchObject({ ok: true, status: 200 });
    const off = await serve({ apiKey: KEY, cors: false });
    const refused = await completionFromPage(`http://127.0.0.1:${pagePort}/`, off.url);
    expect(!refused.ok && refused.error).toMatch(/^TypeError/);
  });
});

describe('CORS headers and preflights (plain fetch)', () => {
  const preflight = (url: string, origin: string, path = '/v1/chat/completions') =>
    fetch(`${url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-stainless-os, x-stainless-retry-count' },
    });

  it('a preflight from an allowed origin is 204 with the methods, the requested headers and a max age, before the key check', async () => {
    const { url } = await serve({ apiKey: KEY });
    const origin = 'http://localhost:5173';
    const response = await preflight(url, origin);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(response.headers.get('vary')).toMatch(/origin/i);
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-stainless-os, x-stainless-retry-count');
    expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(await response.text()).toBe('');
    // Any route, even one that does not exist (the browser asks before it knows).
    expect((await preflight(url, 'http://[::1]:3000', '/sessions')).status).toBe(204);
  });

  it('a refused origin: its preflight is 403 CORS_ORIGIN_NOT_ALLOWED in the error shape, its requests carry no CORS headers', async () => {
    const { url } = await serve({ apiKey: KEY });
    const response = await preflight(url, 'https://evil.example');
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining('https://evil.example') as string, type: 'authentication_error', code: 'CORS_ORIGIN_NOT_ALLOWED', param: null },
    });
    // A loopback name on another scheme-less or look-alike origin is not loopback.
    expect((await preflight(url, 'http://localhost.evil.example')).status).toBe(403);
    expect((await preflight(url, 'http://127.0.0.1:80x')).status).toBe(403);
    const models = await fetch(`${url}/v1/models`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${KEY}` } });
    expect(models.status).toBe(200);
    expect(models.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an allowed origin reads every answer, errors included, with the headers the clients use exposed', async () => {
    const { url } = await serve({ apiKey: KEY, cors: ['https://app.example'] });
    const origin = 'https://app.example';
    const ok = await fetch(`${url}/v1/models`, { headers: { origin, authorization: `Bearer ${KEY}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(origin);
    expect(ok.headers.get('access-control-expose-headers')).toContain('retry-after');
    const unauthorized = await fetch(`${url}/v1/models`, { headers: { origin } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe(origin);
    // A list replaces the default: loopback pages are refused here.
    expect((await preflight(url, 'http://localhost:5173')).status).toBe(403);
  });

  it("cors: '*' allows any origin; cors: false sends no CORS headers and preflights are the plain 404", async () => {
    const any = await serve({ cors: '*' });
    const anyResponse = await preflight(any.url, 'https://anywhere.example');
    expect(anyResponse.status).toBe(204);
    expect(anyResponse.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
    const off = await serve({ cors: false });
    const offResponse = await preflight(off.url, 'http://localhost:5173');
    expect(offResponse.status).toBe(404);
    expect(offResponse.headers.get('access-control-allow-origin')).toBeNull();
    // No Origin (curl, the openai client in node): no CORS headers.
    const plain = await fetch(`${any.url}/v1/models`);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });
});
