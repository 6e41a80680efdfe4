/**
 * The whole transport contract suite (transport.test.ts: ask, tell, typed errors, timeouts, abort,
 * streams, cancel, backpressure, payloads that are not plain data, a closed transport, heartbeats)
 * run over the NATS transport against a real nats-server: transport.test.ts is imported with its
 * setups replaced by the one NATS setup (helpers/natsSetups.ts).
 */
import { afterAll, vi } from 'vitest';
import { stopNatsServer } from './helpers/natsSetups.js';

vi.mock('./helpers/transportSetups.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('./helpers/transportSetups.js')>();
  const { overNats } = await import('./helpers/natsSetups.js');
  return { ...original, SETUPS: [{ name: 'over NATS', make: overNats }] };
});

await import('./transport.test.js');

afterAll(async () => {
  await stopNatsServer();
});
