import { dirname } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  address,
  createServer,
  type LlamaActorsServer,
  LocalLlamaProvider,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  type ModelStatus,
  SessionManager,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

/**
 * The chat page at `/`, driven end to end in headless Chromium (Debian's `/usr/bin/chromium`, driven
 * by playwright-core) against a real server over the tiny model.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = '/tmp/llama-actors-chat.png';
const WAIT = { timeout: 15_000 };

let llama: Llama;
let browser: Browser;
let router: MessageRouter;
let models: ModelManager;
let sessions: SessionManager;
let server: LlamaActorsServer;
let url: string;
let page: Page;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  llama = await getTestLlama();
  const tinyPath = await ensureTinyModel();
  router = new MessageRouter({ logger: pino({ level: 'silent' }) });
  const store = new MemoryStore();
  models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
  await models.publishProvider({ id: 'local', kind: 'local-llama' });
  // A context larger than the tiny model's own 512 tokens, so a long turn runs for seconds and can be
  // stopped; node-llama-cpp's engine, since the native one finishes 6,000 tiny-model tokens before the
  // page has rendered its first (the page is what is tested here).
  await models.publishModel({
    id: 'tiny',
    provider: address('local'),
    path: tinyPath,
    load: { slots: 2, threads: 1, contextSize: 8192, engine: 'node-llama-cpp' },
  });
  sessions = new SessionManager({ router, store, models });
  server = createServer({ router, models, sessions, port: 0, modelDirs: [dirname(tinyPath)] });
  url = await server.listen();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  cleanups.push(() => store.dispose(), () => router.dispose(), () => server.close(), () => browser.close());
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 900, height: 760 } });
});

afterEach(async () => {
  await page.close();
});

const status = () => router.ask<ModelStatus>('model/tiny', ModelMessage.Status, null);
const storedTurns = async (id: string) => {
  const response = await fetch(`${url}/sessions/${id}`);
  return ((await response.json()) as { turns: Array<{ role: string; content: string }> }).turns;
};
const lastAssistant = () => page.locator('[data-testid="transcript"] [data-role="assistant"]').last();

/** Opens the page and creates a session on the tiny model through it; returns the session id. */
async function newSession(base = url): Promise<string> {
  await page.goto(base);
  await expect.poll(() => page.getByTestId('model-select').inputValue(), WAIT).toBe('tiny');
  await page.getByTestId('new-session').click();
  await expect.poll(() => page.getByTestId('session-select').inputValue(), WAIT).not.toBe('');
  return page.getByTestId('session-select').inputValue();
}

async function send(message: string, maxTokens: number): Promise<void> {
  await page.getByTestId('max-tokens').fill(String(maxTokens));
  await page.getByTestId('message-input').fill(message);
  await page.getByTestId('send').click();
}

describe('web chat page', () => {
  it('loads and lists the model', async () => {
    await page.goto(url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').allTextContents(), WAIT).toEqual(['tiny']);
    expect(await page.title()).toBe('llama-actors chat');
    expect(await page.getByTestId('error').textContent()).toBe('');
  });

  it('serves a favicon, linked from the page', async () => {
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toBe('image/svg+xml');
      expect(await response.text(), path).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    }
    await page.goto(url);
    const href = await page.locator('link[rel="icon"]').evaluate((link) => (link as unknown as { href: string }).href);
    expect(href).toBe(`${url}/favicon.svg`);
    expect((await page.request.get(href)).status()).toBe(200);
  });

  it('the first message starts a session when none is selected, then streams into it', async () => {
    await page.goto(url);
    await expect.poll(() => page.getByTestId('model-select').inputValue(), WAIT).toBe('tiny');
    expect(await page.getByTestId('session-select').inputValue()).toBe('');
    const before = (await (await fetch(`${url}/sessions`)).json()) as { sessions: Array<{ id: string }> };
    await page.getByTestId('system-prompt').fill('Be brief.');
    await send('first words', 6);
    await lastAssistant().and(page.locator('[data-state="done"]')).waitFor(WAIT);
    expect(await page.getByTestId('error').textContent()).toBe('');

    const id = await page.getByTestId('session-select').inputValue();
    expect(id).not.toBe('');
    expect(before.sessions.map((s) => s.id)).not.toContain(id);
    const turns = await storedTurns(id);
    expect(turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    expect(turns[0]?.content).toBe('first words');
    expect(await lastAssistant().locator('.content').textContent()).toBe(turns[1]?.content);
    const session = (await (await fetch(`${url}/sessions/${id}`)).json()) as { systemPrompt?: string };
    expect(session.systemPrompt).toBe('Be brief.');
    // The transcript: the system prompt, the message, the reply; one exchange is two stored messages.
    expect(await page.locator('[data-testid="transcript"] [data-testid="message"]').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { role: string } }).dataset.role)))
      .toEqual(['system', 'user', 'assistant']);
    await expect.poll(() => page.getByTestId('session-select').locator('option:checked').textContent(), WAIT).toBe(`${id} · tiny · 2 messages`);

    // A second message goes to the same session.
    await send('more', 4);
    await expect.poll(() => page.locator('[data-role="assistant"][data-state="done"]').count(), WAIT).toBe(2);
    expect(await page.getByTestId('session-select').inputValue()).toBe(id);
    expect((await storedTurns(id)).length).toBe(4);
    await expect.poll(() => page.getByTestId('session-select').locator('option:checked').textContent(), WAIT).toBe(`${id} · tiny · 4 messages`);
  });

  it('labels a session with its count of stored messages (turns), not exchanges', async () => {
    const id = await newSession();
    expect(await page.getByTestId('session-select').locator('option:checked').textContent()).toBe(`${id} · tiny · 0 messages`);
    // One stored turn (an imported session ending on the user's message) is one message.
    const exported = await sessions.export(id);
    await sessions.import({ ...exported, session: { ...exported.session, turns: [{ role: 'user', content: 'just this', at: Date.now() }] } }, { id: `${id}-one` });
    await page.reload();
    await expect.poll(() => page.getByTestId('session-select').locator('option').allTextContents(), WAIT)
      .toEqual(expect.arrayContaining([`${id} · tiny · 0 messages`, `${id}-one · tiny · 1 message`]));
  });

  it('streams a reply token by token; the final text is the stored turn; stats show TTFT and tokens/s', async () => {
    const id = await newSession();
    // Record every intermediate text of the transcript's text nodes, to see the reply grow.
    await page.evaluate(`(() => {
      window.__seen = [];
      new MutationObserver((records) => { for (const r of records) window.__seen.push(r.oldValue); })
        .observe(document.getElementById('transcript'), { characterData: true, characterDataOldValue: true, subtree: true });
    })()`);
    await send('hello there', 40);
    await lastAssistant().and(page.locator('[data-state="done"]')).waitFor(WAIT);

    const text = (await lastAssistant().locator('.content').textContent()) ?? '';
    const turns = await storedTurns(id);
    expect(turns.map((t) => t.role)).toEqual(['user', 'assistant']);
    expect(turns[0]?.content).toBe('hello there');
    expect(text).toBe(turns[1]?.content);
    expect(text.length).toBeGreaterThan(0);
    expect(await lastAssistant().getAttribute('data-tokens')).toBe('40');

    const seen = await page.evaluate<string[]>('window.__seen');
    const partials = new Set(seen.filter((s) => s.length > 0 && s.length < text.length));
    expect(partials.size).toBeGreaterThan(5); // many partial texts: tokens arrived one by one
    for (const partial of partials) expect(text.startsWith(partial)).toBe(true);

    const stats = (await page.getByTestId('stats').textContent()) ?? '';
    expect(stats).toMatch(/first token \d+ ms/);
    expect(stats).toMatch(/\d+(\.\d+)? tok\/s/);
    expect(stats).toContain('40 tokens');
    expect(stats).toContain('length');

    await page.getByTestId('message-input').fill('a draft');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // The history shows again when the page is reloaded.
    await page.reload();
    await expect.poll(() => page.getByTestId('session-select').locator('option').allTextContents(), WAIT).toContain(`${id} · tiny · 2 messages`);
    await page.getByTestId('session-select').selectOption(id);
    await expect.poll(() => lastAssistant().locator('.content').textContent(), WAIT).toBe(text);
  });

  it('Stop aborts a long generation, frees the slot, and the page can send again', async () => {
    const id = await newSession();
    await send('go on for a long time', 6000);
    // Some tokens arrived: the generation is under way.
    await page.locator('[data-role="assistant"][data-state="streaming"]:not([data-tokens="0"])').waitFor(WAIT);
    expect(await page.getByTestId('stop').isEnabled()).toBe(true);
    // Only the transcript scrolls: Stop stays in view and in place while tokens stream in.
    const before = await page.getByTestId('stop').boundingBox();
    const tokensNow = Number(await lastAssistant().getAttribute('data-tokens'));
    await expect.poll(async () => Number(await lastAssistant().getAttribute('data-tokens')), WAIT).toBeGreaterThan(tokensNow + 200);
    const after = await page.getByTestId('stop').boundingBox();
    expect(after).toEqual(before);
    expect((after?.y ?? Infinity) + (after?.height ?? 0)).toBeLessThanOrEqual(760);
    expect(await page.evaluate('document.scrollingElement.scrollTop')).toBe(0);
    await page.getByTestId('stop').click();
    await lastAssistant().and(page.locator('[data-state="stopped"]')).waitFor(WAIT);
    expect(Number(await lastAssistant().getAttribute('data-tokens'))).toBeLessThan(6000);
    expect(await page.getByTestId('stats').textContent()).toContain('stopped');
    expect(await page.getByTestId('error').textContent()).toBe('');
    await expect.poll(async () => (await status()).busySlots, WAIT).toBe(0);
    expect(await storedTurns(id)).toEqual([]); // a stopped turn is not persisted

    await expect.poll(() => page.getByTestId('send').isEnabled(), WAIT).toBe(true);
    await send('again', 5);
    await lastAssistant().and(page.locator('[data-state="done"]')).waitFor(WAIT);
    const turns = await storedTurns(id);
    expect(turns.map((t) => t.content)).toEqual(['again', await lastAssistant().locator('.content').textContent()]);
    expect((await status()).busySlots).toBe(0);
  });

  it('shows HTTP errors and stream errors', async () => {
    const id = await newSession();
    // The session is deleted behind the page's back: the POST answers 404.
    expect((await fetch(`${url}/sessions/${id}`, { method: 'DELETE' })).status).toBe(204);
    await send('anyone there?', 5);
    await expect.poll(() => page.getByTestId('error').textContent(), WAIT).toMatch(/not found.*\(ENTITY_NOT_FOUND\)/i);
    expect(await page.getByTestId('send').isEnabled()).toBe(true);

    // A parameter the model refuses: the error comes back (as an SSE error event or an HTTP error).
    await newSession();
    await send('hello', 2_000_000);
    await expect.poll(() => page.getByTestId('error').textContent(), WAIT).toMatch(/maxTokens: 2000000 is outside 1\.\.1000000 \(INVALID_PARAMETER\)/);
  });

  it('asks for a bearer token when the server requires one', async () => {
    const secured = createServer({ router, models, sessions, port: 0, apiKey: 'sesame' });
    const securedUrl = await secured.listen();
    try {
      await page.goto(securedUrl);
      await page.getByTestId('auth').waitFor(WAIT);
      await expect.poll(() => page.getByTestId('error').textContent(), WAIT).toMatch(/bearer token/);
      await page.getByTestId('token').fill('sesame');
      await page.getByTestId('save-token').click();
      await expect.poll(() => page.getByTestId('model-select').inputValue(), WAIT).toBe('tiny');
      expect(await page.getByTestId('auth').isHidden()).toBe(true);
      expect(await page.getByTestId('error').textContent()).toBe('');
      expect(await page.evaluate<string | null>(`sessionStorage.getItem('llama-actors.token')`)).toBe('sesame');
    } finally {
      await secured.close();
    }
  });
});
