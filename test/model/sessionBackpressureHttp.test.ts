/**
 * Backpressure through a session over HTTP: a client of `POST /sessions/:id/messages` (SSE) that
 * stops reading stops the model, within what the socket holds plus the in-process pipe.
 *
 * Over loopback the kernel takes some MB from a server whose client does not read (~4 MB measured
 * here with default buffers), more than a whole generation, so the client here is a raw socket with
 * a small receive buffer (`SO_RCVBUF` 4 KiB, set before it connects) and the server's socket gets a
 * small send buffer (`SO_SNDBUF` 4 KiB): see `helpers/smallWindowSocket.ts`. What the socket then
 * holds is Node's own writable buffer (16 KiB: `res.write` returns false past it and the SseWriter
 * waits for `drain`) plus a few KiB in the kernel: 20–28 KB measured, 140–200 token events of the
 * demo model (~140 bytes each). The demo model (context 4096, ~2,700 tokens/s here) is asked for
 * 3,000 tokens: ~420 KB of events, far more than the socket holds.
 *
 * The bound, with B the bytes the server has written into the socket when the model stalls and E
 * the token events in those B bytes (counted in the bytes the client reads afterwards):
 *
 *   tokens generated ≤ E + 64 (the route's session stream: the router's default highWaterMark)
 *                        + 2 (the session's relay stream from the model) + 8 (events in hand along the pipe)
 *
 * and B is at most 160 KiB (a check that the buffers stay small: 20–28 KB on Node 20, 76 KB on
 * Node 24, whose sockets queue more before a write blocks). Measured: tokens − E was
 * 66 (= 64 + 2) in every run. The old session, which did not await each event on its way to the
 * caller, let the model run on to 1,221 tokens (until the route's stream overflowed at 16 × 64
 * buffered events) against a bound of 271: red.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { ensureDemoModel } from '../../scripts/make-models.js';
import { address, type ModelStatus } from '../../src/index.js';
import { shrinkSendBuffer, SmallWindowClient } from './helpers/smallWindowSocket.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/** The route's session stream: `session.stream(...)` with the router's default highWaterMark. */
const SESSION_STREAM_HWM = 64;
/** The SessionActor's stream from the model (`RELAY_HIGH_WATER_MARK`). */
const RELAY_HWM = 2;
/** Events held along the pipe besides the buffers: one in each awaiting hand, the engine's in flight. */
const IN_HAND = 8;
const MAX_TOKENS = 3_000;
const TOKEN_EVENT = Buffer.from('event: token\n');

let server: TestServer;
const accepted: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer();
  await server.models.publishModel({
    id: 'demo',
    provider: address('local'),
    path: await ensureDemoModel(),
    load: { slots: 1, threads: 1, contextSize: 4096 },
  });
  await server.models.ensureStarted('demo');
  server.server.app.server.on('connection', (socket: Socket) => {
    shrinkSendBuffer(socket, 4096);
    accepted.push(socket);
  });
});

afterAll(async () => {
  await server?.dispose();
});

const status = () => server.router.ask<ModelStatus>('model/demo', 'status', null);

/** Reads the model's token counter until two reads 500 ms apart agree (or 20 s pass: a guard, not the assertion). */
async function settledTokens(): Promise<number> {
  let last = (await status()).tokensGenerated;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = (await status()).tokensGenerated;
    if (now === last) return now;
    last = now;
  }
  return last;
}

function count(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) n++;
  return n;
}

describe('a session is a straight pipe, over HTTP', () => {
  it('an SSE client that stops reading after the first event stops the model within what the socket holds + hwm + 8 tokens', async () => {
    const created = await fetch(`${server.url}/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const before = (await status()).tokensGenerated;

    const client = new SmallWindowClient(server.port, 4096);
    try {
      const body = JSON.stringify({ message: 'go on', params: { maxTokens: MAX_TOKENS, temperature: 0 } });
      client.send(
        `POST /sessions/${encodeURIComponent(id)}/messages HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // Read up to the first token event, then stop reading.
      await client.readUntil((received) => received.includes(TOKEN_EVENT), 30_000);
      const socket = accepted.find((s) => s.remotePort === client.localPort);
      if (socket === undefined) throw new Error('the server side of the client socket was not seen');

      const generated = (await settledTokens()) - before;
      const written = socket.bytesWritten; // headers and events handed to the socket (Node's buffer included)
      const read = client.received.length;
      expect((await status()).busySlots, 'the generation is parked, not finished').toBe(1);
      expect(socket.bytesWritten, 'nothing more was written while the model stood still').toBe(written);

      // Now read what the server had written at the stall, and count its token events.
      await client.readUntil((received) => received.length >= written, 30_000);
      const events = count(client.received.subarray(0, written), TOKEN_EVENT);
      const measured = `model generated ${generated} tokens; the server had written ${written} bytes (${events} token events, ` +
        `${written - read} bytes unread in the socket; client SO_RCVBUF ${client.receiveBuffer})`;
      expect(written - read, measured).toBeLessThanOrEqual(160 * 1024);
      expect(generated, measured).toBeGreaterThan(events);
      expect(generated, measured).toBeLessThanOrEqual(events + SESSION_STREAM_HWM + RELAY_HWM + IN_HAND);
      expect(generated, measured).toBeLessThan(MAX_TOKENS / 2);

      // A client that reads again gets the whole turn: the model resumes and finishes.
      await client.readUntil((received) => received.includes('event: done\n'), 60_000);
      expect(count(client.received, TOKEN_EVENT)).toBe(MAX_TOKENS);
      expect((await status()).tokensGenerated - before).toBe(MAX_TOKENS);
    } finally {
      client.close();
    }
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && (await status()).busySlots > 0; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await status()).busySlots).toBe(0);
  });
});
