import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../Clock.js';
import { InvalidArgumentError } from '../errors.js';
import { decodeFrameBatch, FrameBatcher, v8BatchCodec } from './FrameBatcher.js';
import { type TransportFrame, TransportFrameType } from './frames.js';
import type { Transport, TransportCloseReason, TransportSendOptions } from './Transport.js';
import { TransportBase } from './TransportBase.js';

/** How frames cross the IPC channel: what both sides of one channel are given. */
export interface IpcFramingOptions {
  /**
   * The `serialization` the child was forked with. With `'advanced'` frames are serialized as they
   * are sent and written in batches (see `coalesceMs`); with `'json'` each frame is one IPC message,
   * as `child.send` writes it. Both sides of a channel must say the same. Defaults to `'advanced'`.
   */
  serialization?: 'advanced' | 'json';
  /**
   * With `'advanced'` serialization, the shortest time between two writes on the channel, in ms: a
   * frame after a quiet spell goes at the end of the current event-loop turn, stream chunks that
   * follow sooner go together once the interval has passed (any other frame, such as a credit or
   * an ask, goes at the end of its turn, with them). One message at a time is not delayed; a fast
   * stream's chunks cost the other process one wake-up per interval, not one per chunk (on a busy
   * machine those wake-ups come out of the model's threads). `0`: once per event-loop turn.
   * Defaults to `1`.
   */
  coalesceMs?: number;
}

/** Options of {@link ChildProcessTransport}. */
export interface ChildProcessTransportOptions extends IpcFramingOptions {
  /** pino logger. Defaults to the kernel's default logger. */
  logger?: Logger;
  /** Time source of the wait for the exit status. Defaults to the system clock. */
  clock?: Clock;
  /**
   * How long to wait, after the IPC channel closed, for the process's exit status (so that the close
   * reason names the exit code or signal) before closing without it, in ms. Defaults to `1_000`.
   */
  exitWaitMs?: number;
}

const CLOSED_HERE: TransportCloseReason = { message: 'the transport was closed' };

/** The close reason of a process that exited with `code` or was ended by `signal`. */
function exitReason(code: number | null, signal: string | null): TransportCloseReason {
  const how = signal !== null ? `with signal ${signal}` : `with code ${String(code)}`;
  return { message: `its host process exited ${how}`, exitCode: code, signal };
}

/**
 * The parent's side of a transport to a forked child process, over its IPC channel (fork it with
 * `serialization: 'advanced'`: frames are structured clones, as in {@link InMemoryTransport}; with
 * `json`, `undefined` fields and non-JSON values do not survive). It closes when the channel does,
 * with the child's exit code or signal as the reason (`its host process exited with signal
 * SIGKILL`). Closing it disconnects the channel; the process itself stays the caller's to stop (a
 * child serving `parentProcessTransport()` sees the disconnect and exits on its own).
 *
 * @example
 * ```ts
 * const child = fork('host.js', [], { serialization: 'advanced' });
 * await using peer = new TransportPeer(new ChildProcessTransport(child));
 * console.log(await peer.actors());
 * ```
 */
export class ChildProcessTransport extends TransportBase {
  private readonly clock: Clock;
  private readonly exitWaitMs: number;
  private exitWait: unknown;
  private readonly detach: () => void;
  private readonly batcher: FrameBatcher | undefined;

  /** @throws {InvalidArgumentError} when the process was started without an IPC channel. */
  constructor(
    readonly child: ChildProcess,
    options: ChildProcessTransportOptions = {},
  ) {
    super(options.logger);
    if (typeof child.send !== 'function' || child.channel == null) {
      throw new InvalidArgumentError(`ChildProcessTransport needs a process with an IPC channel (child_process.fork), pid ${String(child.pid)} has none`);
    }
    this.clock = options.clock ?? systemClock;
    this.exitWaitMs = options.exitWaitMs ?? 1_000;
    this.batcher = framingBatcher(options, (batch) => this.write(batch));
    const onMessage = (message: unknown): void => this.receive(message);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => this.lost(exitReason(code, signal));
    const onDisconnect = (): void => this.disconnected();
    const onError = (error: Error): void => {
      // A failed spawn never gets a channel: close with what went wrong. Other errors (a send on a
      // channel closing) are followed by the disconnect, which says more.
      if (child.pid === undefined) this.lost({ message: `its host process could not start: ${error.message}` });
      else this.logger.debug({ err: error }, 'child process transport: channel error');
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('disconnect', onDisconnect);
    child.on('error', onError);
    this.detach = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('disconnect', onDisconnect);
      child.off('error', onError);
    };
    if (child.exitCode !== null || child.signalCode !== null) this.lost(exitReason(child.exitCode, child.signalCode));
    else if (!child.connected) this.disconnected();
  }

  /**
   * Sends a frame over the IPC channel; dropped once the transport or the channel closed.
   *
   * @throws when the frame cannot be serialized (with `advanced` serialization: a function, a symbol).
   */
  send(frame: TransportFrame, options?: TransportSendOptions): void {
    if (this.closed || !this.child.connected) return;
    if (this.batcher) this.batcher.push(frame, options?.flush === true || frame.type !== TransportFrameType.Chunk);
    else this.write(frame);
  }

  /** Writes what is batched, then disconnects the IPC channel (the child sees it close); the process is not signalled. */
  async close(): Promise<void> {
    this.batcher?.flush();
    if (!this.markClosed(CLOSED_HERE)) return;
    this.cleanup();
    if (this.child.connected) this.child.disconnect();
  }

  private write(message: unknown): void {
    if (!this.child.connected) return;
    this.child.send(message as Parameters<ChildProcess['send']>[0], (error) => {
      // The channel went away under the frame: the disconnect closes the transport and says why.
      if (error) this.logger.debug({ err: error }, 'child process transport: a frame was not sent');
    });
  }

  private receive(message: unknown): void {
    receiveIpcMessage(message, (frame) => this.deliver(frame), this.logger);
  }

  /** The channel closed: the exit status usually follows at once; wait a little for it, for the reason's sake. */
  private disconnected(): void {
    if (this.closed || this.exitWait !== undefined) return;
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) {
      this.lost(exitReason(child.exitCode, child.signalCode));
      return;
    }
    this.exitWait = this.clock.setTimeout(
      () => this.lost({ message: `its host process (pid ${String(child.pid)}) closed the IPC channel` }),
      this.exitWaitMs,
    );
    (this.exitWait as { unref?: () => void } | undefined)?.unref?.();
  }

  private lost(reason: TransportCloseReason): void {
    if (this.markClosed(reason)) this.cleanup();
  }

  private cleanup(): void {
    this.detach();
    this.batcher?.stop();
    if (this.exitWait !== undefined) this.clock.clearTimeout(this.exitWait);
    this.exitWait = undefined;
  }
}

/** Options of {@link parentProcessTransport}. */
export interface ParentProcessTransportOptions extends IpcFramingOptions {
  /** pino logger. Defaults to the kernel's default logger. */
  logger?: Logger;
}

/** @internal The child's side: `process.send` and the process's own IPC events. */
class ParentProcessTransport extends TransportBase {
  private readonly detach: () => void;
  private readonly batcher: FrameBatcher | undefined;

  constructor(options: ParentProcessTransportOptions) {
    super(options.logger);
    this.batcher = framingBatcher(options, (batch) => this.write(batch));
    const onMessage = (message: unknown): void => receiveIpcMessage(message, (frame) => this.deliver(frame), this.logger);
    const onDisconnect = (): void => {
      this.detach();
      this.batcher?.stop();
      this.markClosed({ message: 'the parent process closed the IPC channel (it exited, died or closed the transport)' });
    };
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
    this.detach = () => {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    };
  }

  send(frame: TransportFrame, options?: TransportSendOptions): void {
    if (this.closed || !process.connected) return;
    if (this.batcher) this.batcher.push(frame, options?.flush === true || frame.type !== TransportFrameType.Chunk);
    else this.write(frame);
  }

  async close(): Promise<void> {
    this.batcher?.flush();
    if (!this.markClosed(CLOSED_HERE)) return;
    this.detach();
    this.batcher?.stop();
    if (process.connected) process.disconnect();
  }

  private write(message: unknown): void {
    if (!process.connected) return;
    process.send?.(message, undefined, undefined, (error: Error | null) => {
      if (error) this.logger.debug({ err: error }, 'parent process transport: a frame was not sent');
    });
  }
}

/** The batcher of a channel whose frames go in batches (`advanced` serialization), else none. */
function framingBatcher(options: IpcFramingOptions, write: (batch: Buffer) => void): FrameBatcher | undefined {
  if ((options.serialization ?? 'advanced') === 'json') return undefined;
  return new FrameBatcher(write, v8BatchCodec, options.coalesceMs === undefined ? {} : { coalesceMs: options.coalesceMs });
}

/** One IPC message: a batch of frames (a buffer), or one frame as it was sent. */
function receiveIpcMessage(message: unknown, deliver: (frame: unknown) => void, logger: Logger): void {
  if (!(message instanceof Uint8Array)) {
    deliver(message);
    return;
  }
  decodeFrameBatch(message, deliver, (error) => logger.warn({ err: error }, 'transport: dropped a batched frame that could not be read'));
}

/**
 * The child's side of a {@link ChildProcessTransport}: frames over this process's IPC channel to
 * the parent that forked it. It closes when the channel disconnects, which is what the parent's
 * death looks like from here (or its closing the transport): listen with `onClose` and exit, so
 * that no orphan outlives its parent. A closed channel also stops holding the event loop open.
 *
 * @throws {InvalidArgumentError} when this process has no IPC channel (not started by `fork`).
 * @example
 * ```ts
 * const router = new MessageRouter();
 * router.registerActor('model/tiny', new ModelActor({ modelPath }));
 * const transport = parentProcessTransport();
 * const exported = exportActors(router, transport);
 * transport.onClose(async () => {
 *   await exported.dispose();
 *   await router.dispose();
 *   process.exit(0);
 * });
 * ```
 */
export function parentProcessTransport(options: ParentProcessTransportOptions = {}): Transport & AsyncDisposable {
  if (typeof process.send !== 'function' || !process.connected) {
    throw new InvalidArgumentError(`parentProcessTransport needs a process started by child_process.fork with an IPC channel (pid ${process.pid} has none)`);
  }
  return new ParentProcessTransport(options);
}
