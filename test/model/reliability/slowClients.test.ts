import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, exchange, type RawResponse } from './rawHttp.js';
import { normalChat, startTestServer, type TestServer } from './testServer.js';

/**
 * Slow clients at scale (issue 11): 50 connections that send their headers a line at a time and
 * 50 that send their body a byte at a time, against a server with short header and request
 * timeouts. Every one must be cut, with a coded 408 or by the connection closing, while normal
 * requests alongside are served as usual; oversized heads get a coded 431.
 */
const SLOW = 50;
/** A client still connected after this long was not cut: a liveness bound, not a timing assertion. */
const CUT_BOUND_MS = 20_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ slots: 2 }, { limits: { headersTimeoutMs: 400, requestTimeoutMs: 800 } });
  await server.models.ensureStarted('tiny');
});
afterAll(async () => {
  await server?.dispose();
});

/** Writes `first`, then `drip` every 100 ms until the server cuts the connection. */
function dripper(first: string, drip: string) {
  return (socket: Socket): void => {
    socket.write(first);
    const timer = setInterval(() => socket.writable && socket.write(drip), 100);
    socket.on('close', () => clearInterval(timer));
  };
}

const slowHeaders = () =>
  exchange(server.port, { method: 'POST', target: '/v1/chat/completions', headers: [] }, {
    timeoutMs: CUT_BOUND_MS,
    write: dripper('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n', 'x-drip: 1\r\n'),
  });
const slowBody = () =>
  exchange(server.port, { method: 'POST', target: '/v1/chat/completions', headers: [] }, {
    timeoutMs: CUT_BOUND_MS,
    write: dripper('POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{', ' '),
  });

/** "cut" when the server closed the connection, with a coded 408 or no answer at all; else what it did. */
function howCut(response: RawResponse): string {
  if (response.outcome === 'timeout') return 'not cut';
  if (response.outcome === 'closed' && response.status === 0) return 'cut';
  const error = errorOf(response);
  return response.status === 408 && typeof error !== 'string' && error.code === 'REQUEST_TIMEOUT' ? 'cut' : `answered ${response.status}: ${JSON.stringify(error)}`;
}

describe('slow clients', () => {
  it(`${SLOW} slow-header and ${SLOW} slow-body clients are all cut, while normal requests are served`, async () => {
    const slow = [...Array.from({ length: SLOW }, slowHeaders), ...Array.from({ length: SLOW }, slowBody)];
    // Normal requests go on while the slow ones hold their connections.
    const normal: Array<{ status: number; finish?: string }> = [];
    for (let i = 0; i < 10; i++) normal.push(await normalChat(server.url));
    const outcomes = await Promise.all(slow);
    const cut = outcomes.map(howCut);
    expect(cut.filter((c) => c !== 'cut')).toEqual([]);
    const coded408 = outcomes.filter((o) => o.status === 408).length;
    console.log(`slowClients: ${outcomes.length} slow clients cut (${coded408} with a coded 408, ${outcomes.length - coded408} closed), ${normal.length} normal requests served alongside`);
    expect(normal).toEqual(Array.from({ length: 10 }, () => ({ status: 200, finish: 'length' })));
    await expect.poll(() => server.connections(), { timeout: 10_000 }).toBe(0);
    expect(await normalChat(server.url)).toEqual({ status: 200, finish: 'length' });
  });

  it('oversized request heads get a coded 431: one huge header, many headers, a huge URL', async () => {
    const heads = [
      `GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
      `GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n${Array.from({ length: 400 }, (_, i) => `x-h${i}: ${'v'.repeat(40)}\r\n`).join('')}\r\n`,
      `GET /health?${'q'.repeat(20_000)} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`,
    ];
    for (const head of heads) {
      const response = await exchange(server.port, { method: 'GET', target: '/', headers: [] }, { timeoutMs: CUT_BOUND_MS, write: (socket) => socket.write(head) });
      const error = errorOf(response);
      expect([response.status, typeof error === 'string' ? error : error.code]).toEqual([431, 'HEADERS_TOO_LARGE']);
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
