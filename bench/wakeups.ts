/**
 * What one cross-process message costs on this machine, paced like a token (one every `--gap` ms,
 * the receiver asleep in between): the CPU the sender and the receiver spend per message for a bare
 * timer wake-up (no message), a write on a loopback TCP socket (what a NATS hop is) and a Node IPC
 * message (what a model host hop is). A stream that crosses processes pays this once per process and
 * token; it is why a token through a worker, nats-server and a front end costs more than the
 * transport's own JavaScript (bench/nats.ts prints the CPU per token of each process).
 *
 *   npx tsx bench/wakeups.ts [--messages 300] [--gap 15]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { processCpuMs } from './ForeignLoad.js';

if (process.argv[2] === 'receiver') {
  // The receiving process: takes socket data and IPC messages and does nothing with them.
  const server = createServer((socket) => socket.on('data', () => {}));
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {});
} else {
  const { values } = parseArgs({ options: { messages: { type: 'string', default: '300' }, gap: { type: 'string', default: '15' } } });
  const MESSAGES = Number(values.messages);
  const GAP = Number(values.gap);
  const receiver = fork(new URL(import.meta.url).pathname, ['receiver'], { execArgv: ['--import', 'tsx'] });
  const { port } = await new Promise<{ port: number }>((resolve) => receiver.once('message', (message) => resolve(message as { port: number })));
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once('connect', resolve));
  const frame = JSON.stringify({ type: 'chunk', id: 1, event: { type: 'token', content: ' token', tokenId: 1234, timestamp: Date.now() } });
  const kinds: Record<string, (() => void) | undefined> = {
    'timer wake-up only': undefined,
    'TCP loopback write (a NATS hop)': () => socket.write(frame),
    'IPC message (a model host hop)': () => receiver.send(frame),
  };
  const rows: Record<string, Record<string, number>> = {};
  for (const round of [0, 1]) {
    for (const [name, send] of Object.entries(kinds)) {
      const sender = process.cpuUsage();
      const received = processCpuMs(receiver.pid as number, false);
      const started = performance.now();
      for (let i = 0; i < MESSAGES; i++) {
        send?.();
        await new Promise((resolve) => setTimeout(resolve, GAP));
      }
      const wall = performance.now() - started;
      const used = process.cpuUsage(sender);
      // The first round warms up (JIT, sockets); the second is the one printed.
      if (round === 0) continue;
      rows[name] = {
        'sender CPU µs/message': Math.round((used.user + used.system) / MESSAGES),
        'receiver CPU µs/message': Math.round(((processCpuMs(receiver.pid as number, false) - received) * 1000) / MESSAGES),
        'wall ms/message': +(wall / MESSAGES).toFixed(2),
      };
    }
  }
  socket.destroy();
  receiver.kill();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`llama-actors wake-up cost: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ${MESSAGES} messages ${GAP} ms apart per row; load average ${load}`);
  console.table(rows);
  console.log('receiver CPU is read from /proc in 10 ms ticks: coarse per message, exact in sum');
}
