/**
 * A real nats-server (Debian's `nats-server` binary, installed by .ci/run) for the NATS transport
 * tests: started on a free port of 127.0.0.1, ready once it says so on its log, stopped and
 * restarted on the same port by the tests that need it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/** Options of {@link NatsServer.start}. */
export interface NatsServerOptions {
  /** Enables JetStream (`-js`), its store in a temporary directory kept across restarts and removed by {@link NatsServer.stop} with `{ removeStore: true }`. Defaults to `false`. */
  jetStream?: boolean;
}

export class NatsServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    /** JetStream's store directory, when started with `jetStream`. */
    readonly storeDir?: string,
  ) {}

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server on `port` (a free one by default) and waits until it accepts connections. */
  static async start(port?: number, options: NatsServerOptions = {}): Promise<NatsServer> {
    const storeDir = options.jetStream ? await mkdtemp(join(tmpdir(), 'llama-actors-jetstream-')) : undefined;
    const server = new NatsServer(port ?? (await freePort()), storeDir);
    await server.restart();
    return server;
  }

  /** Starts the server again on the same port (after {@link stop}), waiting until it is ready. */
  async restart(): Promise<void> {
    if (this.child) throw new Error(`nats-server on port ${this.port} is already running`);
    const jetStream = this.storeDir === undefined ? [] : ['-js', '-sd', this.storeDir];
    const child = spawn('nats-server', ['-p', String(this.port), '-a', '127.0.0.1', ...jetStream], { stdio: ['ignore', 'ignore', 'pipe'] });
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

  /**
   * Kills the server (SIGKILL: no goodbye to its clients) and waits for its exit; with
   * `removeStore`, removes JetStream's store too (the last stop). Idempotent.
   */
  async stop(options: { removeStore?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    if (options.removeStore && this.storeDir !== undefined) await rm(this.storeDir, { recursive: true, force: true });
  }
}
