/**
 * Transport overhead, side by side in one run: the same actor reached
 *  - in process (a plain MessageRouter),
 *  - over an InMemoryTransport (a second router in this process, every frame structuredClone'd),
 *  - in a child process over Node IPC, with `serialization: 'advanced'` and with `json`,
 * through the caller's router (a RemoteActor proxy) in the remote cases, as callers use it.
 * For each: stream throughput (chunks/s and µs per chunk, a no-op consumer, default windows: at
 * saturation a chunk's latency is mostly its wait in the buffers, so it is not reported there);
 * one-way chunk latency of a paced stream (a token every ms, like a fast model: the producer's
 * timestamp to the consumer, p50 / p99 µs); and sequential `ask` round trips (p50 µs). Ratios are
 * against in process. Interleaved rounds; medians reported.
 *
 *   npx tsx bench/transport.ts [--rounds 5] [--chunks 20000] [--paced 200] [--asks 2000]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Actor, type ActorContext, defineProtocol, type Message, MessageRouter, type StreamCallback, type StreamShape, type TokenStreamEventInput } from '../src/index.js';
import { ChildProcessTransport, parentProcessTransport } from '../src/messaging/transport/ChildProcessTransport.js';
import { connectActors } from '../src/messaging/transport/connectActors.js';
import { exportActors } from '../src/messaging/transport/exportActors.js';
import { InMemoryTransport } from '../src/messaging/transport/InMemoryTransport.js';
import type { Transport } from '../src/messaging/transport/Transport.js';
import { TransportPeer } from '../src/messaging/transport/TransportPeer.js';
import { flag, median } from './args.js';

const ROUNDS = flag('rounds', 5);
const CHUNKS = flag('chunks', 20_000);
const ASKS = flag('asks', 2_000);
const PACED = flag('paced', 200);
const ID = 'bench/producer';
const silent = pino({ level: 'silent' });

interface BenchProtocol {
  add: { payload: number; reply: number };
  tokens: { payload: number; stream: StreamShape };
  paced: { payload: number; stream: StreamShape };
}
const benchProtocol = defineProtocol<BenchProtocol>('bench', { add: {}, tokens: { stream: true }, paced: { stream: true } });

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

/** Answers `add` and streams `n` tokens, awaiting onChunk each time, as a model actor would. */
class Producer extends Actor {
  override readonly protocol = benchProtocol;

  override receive(message: Message): number {
    return (message.payload as number) + 1;
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, { signal, message }: ActorContext): Promise<void> {
    const paced = message.type === 'paced';
    for (let i = 0; i < (payload as number) && !signal.aborted; i++) {
      if (paced) await tick();
      await onChunk({ type: 'token', content: 'x', tokenId: i });
    }
  }
}

function hostRouter(): MessageRouter {
  const router = new MessageRouter({ logger: silent });
  router.registerActor(ID, new Producer());
  return router;
}

interface Target {
  readonly router: MessageRouter;
  close(): Promise<void>;
}

async function overTransport(transport: Transport, after: () => Promise<void>): Promise<Target> {
  const peer = new TransportPeer(transport, { logger: silent });
  const router = new MessageRouter({ logger: silent });
  await connectActors(router, peer);
  return {
    router,
    close: async () => {
      await router.dispose();
      await peer.dispose();
      await after();
    },
  };
}

async function child(serialization: 'advanced' | 'json'): Promise<Target> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const host = fork(fileURLToPath(import.meta.url), ['--host', `--serialization=${serialization}`], { execArgv: ['--import', tsx], serialization });
  const exited = once(host, 'exit');
  return overTransport(new ChildProcessTransport(host, { logger: silent, serialization }), async () => void (await exited));
}

interface Sample {
  chunksPerSecond: number;
  latencyP50Us: number;
  latencyP99Us: number;
  askP50Us: number;
}

const now = (): number => performance.timeOrigin + performance.now();

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function sample(router: MessageRouter): Promise<Sample> {
  const start = performance.now();
  const result = await router.streamAsk(ID, 'tokens', CHUNKS, { onChunk: () => {} });
  const seconds = (performance.now() - start) / 1_000;
  if (result.tokenCount !== CHUNKS) throw new Error(`the stream ended after ${result.tokenCount} of ${CHUNKS} chunks: ${result.error?.message ?? result.finishReason}`);
  // The timestamp is the producer's clock (epoch ms with fractions): comparable across processes on one machine.
  const latencies: number[] = [];
  await router.streamAsk(ID, 'paced', PACED, {
    onChunk: (event) => {
      if (event.type === 'token') latencies.push((now() - event.timestamp) * 1_000);
    },
  });
  latencies.sort((a, b) => a - b);
  const asks: number[] = [];
  for (let i = 0; i < ASKS; i++) {
    const at = performance.now();
    await router.ask(ID, 'add', i);
    asks.push((performance.now() - at) * 1_000);
  }
  return {
    chunksPerSecond: CHUNKS / seconds,
    latencyP50Us: percentile(latencies, 0.5),
    latencyP99Us: percentile(latencies, 0.99),
    askP50Us: median(asks),
  };
}

async function main(): Promise<void> {
  const inProcess = hostRouter();
  const [near, far] = InMemoryTransport.pair({ logger: silent });
  const memoryHost = hostRouter();
  exportActors(memoryHost, far, { logger: silent });
  const targets: Record<string, Target> = {
    'in process': { router: inProcess, close: () => inProcess.dispose() },
    InMemoryTransport: await overTransport(near, () => memoryHost.dispose()),
    'child process (advanced)': await child('advanced'),
    'child process (json)': await child('json'),
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  for (const target of Object.values(targets)) await sample(target.router); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, target] of Object.entries(targets)) samples[name]?.push(await sample(target.router));
  }
  const med = (name: string, key: keyof Sample): number => median((samples[name] ?? []).map((s) => s[key]));
  const base = 'in process';
  const baseUsPerChunk = 1e6 / med(base, 'chunksPerSecond');
  console.log(
    `transport overhead: ${CHUNKS} chunks per stream, ${PACED} paced chunks (1 per ms), ${ASKS} sequential asks, median of ${ROUNDS} rounds (node ${process.version})`,
  );
  console.log('| path | chunks/s | µs/chunk | added µs/chunk | × in process | paced chunk latency p50 / p99 µs | ask p50 µs | × in process |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(targets)) {
    const rate = med(name, 'chunksPerSecond');
    const usPerChunk = 1e6 / rate;
    const ask = med(name, 'askP50Us');
    console.log(
      `| ${name} | ${Math.round(rate).toLocaleString('en-US')} | ${usPerChunk.toFixed(2)} | ${(usPerChunk - baseUsPerChunk).toFixed(2)} | ` +
        `${(med(base, 'chunksPerSecond') / rate).toFixed(1)} | ${med(name, 'latencyP50Us').toFixed(0)} / ${med(name, 'latencyP99Us').toFixed(0)} | ` +
        `${ask.toFixed(1)} | ${(ask / med(base, 'askP50Us')).toFixed(1)} |`,
    );
  }
  for (const target of Object.values(targets)) await target.close();
}

// Forked with --host: serve the producer to the parent, exit when the channel closes.
if (process.argv.includes('--host')) {
  const router = hostRouter();
  const transport = parentProcessTransport({ logger: silent, serialization: process.argv.includes('--serialization=json') ? 'json' : 'advanced' });
  exportActors(router, transport, { logger: silent });
  transport.onClose(() => void router.dispose().finally(() => process.exit(0)));
} else {
  await main();
}
