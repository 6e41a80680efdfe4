/**
 * The three ways the transport contract suite reaches the probe actors: in process (a plain
 * router), over an InMemoryTransport, and in a real child process (transportHost.ts, forked with
 * tsx's loader). Each gives the caller's router, its manual clock (the caller's router and peer
 * run on it: timeouts and heartbeats move only when a test says) and, when remote, the peer and
 * the caller's end of the transport.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { type MessageRouter } from '../../../src/index.js';
import { ChildProcessTransport } from '../../../src/messaging/transport/ChildProcessTransport.js';
import { connectActors } from '../../../src/messaging/transport/connectActors.js';
import { exportActors } from '../../../src/messaging/transport/exportActors.js';
import { TransportFrameType } from '../../../src/messaging/transport/frames.js';
import { InMemoryTransport } from '../../../src/messaging/transport/InMemoryTransport.js';
import type { Transport } from '../../../src/messaging/transport/Transport.js';
import { TransportPeer } from '../../../src/messaging/transport/TransportPeer.js';
import { ManualClock, newRouter } from '../fixtures.js';
import { PROBE, ProbeMessage, probeProtocol, type ProbeStats, registerProbeActors } from './transportActors.js';

/** Every buffer on a stream's way: the caller's stream, the credit window, the host router's. */
export const HWM = 4;

export const silent = pino({ level: 'silent' });

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
export const HOST_SCRIPT = fileURLToPath(new URL('./transportHost.ts', import.meta.url));
export const PARENT_SCRIPT = fileURLToPath(new URL('./transportParent.ts', import.meta.url));

/** Forks a script from sources, as TrainerProcess and the model host do: tsx's loader, an IPC channel. */
export function forkScript(script: string, args: string[] = [], stdio: 'inherit' | 'pipe' = 'inherit'): ChildProcess {
  return fork(script, args, { execArgv: ['--import', TSX], serialization: 'advanced', stdio: ['ignore', stdio, 'inherit', 'ipc'] });
}

export interface RemoteSide {
  readonly peer: TransportPeer;
  /** The caller's end. */
  readonly transport: Transport;
  /** Pongs received so far. */
  pongs(): number;
  /** The host stops answering, its transport left open. */
  stall(): Promise<void>;
  readonly child?: ChildProcess;
  /** Resolves with the child's exit. */
  readonly exited?: Promise<unknown[]>;
}

export interface Setup {
  /** The caller's router: the probe actors are its own, or proxies of the host's. */
  readonly router: MessageRouter;
  readonly clock: ManualClock;
  readonly remote: RemoteSide | undefined;
  dispose(): Promise<void>;
}

export async function inProcess(): Promise<Setup> {
  const clock = new ManualClock();
  const router = newRouter({ clock });
  registerProbeActors(router);
  return { router, clock, remote: undefined, dispose: () => router.dispose() };
}

async function connected(
  transport: Transport,
  stall: () => Promise<void>,
  cleanup: () => Promise<void>,
  child?: { child: ChildProcess; exited: Promise<unknown[]> },
): Promise<Setup> {
  const clock = new ManualClock();
  const peer = new TransportPeer(transport, { clock, logger: silent });
  let pongs = 0;
  transport.onFrame((frame) => {
    if (frame.type === TransportFrameType.Pong) pongs++;
  });
  const router = newRouter({ clock });
  await connectActors(router, peer, { highWaterMark: HWM });
  return {
    router,
    clock,
    remote: { peer, transport, pongs: () => pongs, stall, ...child },
    dispose: async () => {
      await router.dispose();
      await peer.dispose();
      await cleanup();
    },
  };
}

export async function inMemory(): Promise<Setup> {
  const [near, far] = InMemoryTransport.pair({ logger: silent });
  const host = newRouter({ highWaterMark: HWM });
  registerProbeActors(host);
  const exported = exportActors(host, far, { logger: silent });
  return connected(
    near,
    () => exported.dispose(),
    async () => {
      await exported.dispose();
      await host.dispose();
    },
  );
}

export async function childProcess(): Promise<Setup> {
  const child = forkScript(HOST_SCRIPT, [String(HWM)]);
  const exited = once(child, 'exit');
  const transport = new ChildProcessTransport(child, { logger: silent });
  return connected(
    transport,
    async () => void child.kill('SIGSTOP'),
    async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    { child, exited },
  );
}

export const SETUPS = [
  { name: 'in process', make: inProcess },
  { name: 'over an InMemoryTransport', make: inMemory },
  { name: 'in a child process', make: childProcess },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads until `ok` holds (the other side works at its own pace), failing with the last value after 5 s. */
export async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after 5 s`);
    await sleep(5);
  }
}

/** Reads until the value has stopped changing (three equal readings 30 ms apart): a producer that has come to rest. */
export async function settled<T>(read: () => Promise<T>): Promise<T> {
  let last = JSON.stringify(await read());
  let same = 0;
  const deadline = Date.now() + 10_000;
  while (same < 3 && Date.now() < deadline) {
    await sleep(30);
    const value = await read();
    const key = JSON.stringify(value);
    same = key === last ? same + 1 : 0;
    last = key;
    if (same === 3) return value;
  }
  return JSON.parse(last) as T;
}

/** The probe's own account of what it saw, through whatever stands between. */
export function probeStats(router: MessageRouter): Promise<ProbeStats> {
  return router.ref(PROBE, probeProtocol).ask(ProbeMessage.Stats, null);
}
