/**
 * Middle process of the orphan test: forks transportHost.ts, prints `host <pid>` once the host
 * said hello, then idles until it is killed. The test SIGKILLs this process and checks that the
 * host, whose IPC channel then closes, exits by itself.
 */
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChildProcessTransport } from '../../../src/messaging/transport/ChildProcessTransport.js';
import { TransportPeer } from '../../../src/messaging/transport/TransportPeer.js';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const host = fork(fileURLToPath(new URL('./transportHost.ts', import.meta.url)), [], {
  execArgv: ['--import', tsx],
  serialization: 'advanced',
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const peer = new TransportPeer(new ChildProcessTransport(host), { heartbeatMs: Number.POSITIVE_INFINITY });
await peer.actors();
process.stdout.write(`host ${String(host.pid)}\n`);
setInterval(() => {}, 60_000);
