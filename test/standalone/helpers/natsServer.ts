/**
 * A real nats-server (Debian's `nats-server` binary, installed by .ci/run) for the NATS transport
 * tests: started on a free port of 127.0.0.1, ready once it says so on its log, stopped and
 * restarted on the same port by the tests that need it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before nats-server takes it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

export class NatsServer {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server on `port` (a free one by default) and waits until it accepts connections. */
  static async start(port?: number): Promise<NatsServer> {
    const server = new NatsServer(port ?? (await freePort()));
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after {@link stop}), waiting until it is ready. */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`nats-server on port ${this.port} is already running`);
    const child = spawn('nats-server', ['-p', String(this.port), '-a', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (data: Buffer): void => {
        log += data.toString();
        if (log.includes('Server is ready')) {
          child.stderr?.off('data', onData);
          child.stderr?.resume();
          resolve();
        }
      };
      child.stderr?.on('data', onData);
      child.once('error', (error) => reject(new Error(`nats-server could not start (is it installed? apt-get install nats-server): ${error.message}`)));
      child.once('exit', (code, signal) => reject(new Error(`nats-server on port ${this.port} exited (${String(code ?? signal)}) before it was ready:\n${log}`)));
    });
  }

  /** Kills the server (SIGKILL: no goodbye to its clients) and waits for its exit. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
