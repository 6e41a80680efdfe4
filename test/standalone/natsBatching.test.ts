/**
 * NatsTransport's batching over a real nats-server: the frames of one turn go as one NATS message
 * (a JSON array) and arrive in order, a lone frame goes as itself, and a frame over the server's
 * max_payload is refused to its sender instead of being lost in a batch.
 */
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TransportFrame, TransportFrameType } from '../../src/messaging/transport/frames.js';
import { NatsTransport } from '../../src/messaging/transport/nats/NatsTransport.js';
import { NatsServer } from './helpers/natsServer.js';

const silent = pino({ level: 'silent' });
let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const chunk = (n: number): TransportFrame => ({ type: TransportFrameType.Chunk, id: 1, event: { type: 'token', content: `t${n}`, timestamp: n } });

/** Two transports between fresh inboxes, the messages on the receiver's inbox counted by a second subscriber. */
function pair() {
  const [left, right] = [createInbox(), createInbox()];
  const sender = new NatsTransport(nc, { inbox: left, peer: right, logger: silent });
  const receiver = new NatsTransport(nc, { inbox: right, peer: left, logger: silent });
  const frames: TransportFrame[] = [];
  receiver.onFrame((frame) => frames.push(frame));
  const raw: string[] = [];
  const spy = nc.subscribe(right, { callback: (_error, msg) => void raw.push(msg.string()) });
  const close = async () => {
    spy.unsubscribe();
    await sender.close();
    await receiver.close();
  };
  return { sender, frames, raw, close };
}

const until = async (check: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('NatsTransport batching', () => {
  it('the frames of one turn go as one NATS message and arrive in order; a lone frame goes as itself', async () => {
    const { sender, frames, raw, close } = pair();
    for (let n = 0; n < 10; n++) sender.send(chunk(n));
    await until(() => frames.length === 10);
    expect(frames).toEqual(Array.from({ length: 10 }, (_, n) => chunk(n)));
    await nc.flush();
    expect(raw).toHaveLength(1);
    expect(JSON.parse(raw[0] as string)).toHaveLength(10);
    await new Promise((resolve) => setTimeout(resolve, 5));
    sender.send(chunk(10));
    await until(() => frames.length === 11);
    await nc.flush();
    expect(raw).toHaveLength(2);
    expect(JSON.parse(raw[1] as string)).toEqual(chunk(10));
    await close();
  });

  it("a frame over the server's max_payload throws to its sender; the frames around it still go", async () => {
    const { sender, frames, close } = pair();
    const max = nc.info?.max_payload ?? 0;
    expect(max).toBeGreaterThan(0);
    sender.send(chunk(1));
    const big: TransportFrame = { type: TransportFrameType.Chunk, id: 1, event: { type: 'token', content: 'é'.repeat(max / 2 + 10), timestamp: 0 } };
    expect(() => sender.send(big)).toThrow(new RegExp(`over the NATS server's max_payload of ${max} bytes`));
    sender.send(chunk(2));
    await until(() => frames.length === 2);
    expect(frames).toEqual([chunk(1), chunk(2)]);
    await close();
  });
});
