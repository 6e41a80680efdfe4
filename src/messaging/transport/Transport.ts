import type { TransportFrame } from './frames.js';

/** Why a transport closed: a sentence, and for a process the exit code or signal that ended it. */
export interface TransportCloseReason {
  /** What happened, e.g. `its host process exited with signal SIGKILL`. */
  message: string;
  /** The host process's exit code, when it exited on its own. */
  exitCode?: number | null;
  /** The signal that ended the host process (`SIGKILL`, `SIGSEGV`, ...). */
  signal?: string | null;
}

/** Options of {@link Transport.send}. */
export interface TransportSendOptions {
  /**
   * Send this frame (and any batched before it) at the end of this event-loop turn, not after a
   * batching interval: the sender will wait for the other side's answer, e.g. a stream chunk that
   * spends the last of its credit. Defaults to `false` (a transport may hold a stream chunk briefly
   * to batch it; other frames never wait).
   */
  flush?: boolean;
}

/**
 * A duplex channel of {@link TransportFrame}s between two routers: in one process
 * ({@link InMemoryTransport}), or to a child process over its IPC channel
 * ({@link ChildProcessTransport}, `parentProcessTransport()`). Frames are plain data; a transport
 * delivers them in order and says once, with a reason, when it closed. Everything else (asks,
 * streams, credit, heartbeats) is built on these five members by {@link exportActors} and
 * {@link TransportPeer}, so a new transport (a socket, a worker thread) implements only these.
 *
 * @example
 * ```ts
 * const [near, far] = InMemoryTransport.pair();
 * far.onFrame((frame) => console.log('got', frame.type));
 * near.send({ type: TransportFrameType.Ping, seq: 1 });
 * near.onClose((reason) => console.log('closed:', reason.message));
 * await near.close();
 * ```
 */
export interface Transport {
  /**
   * Sends a frame. Dropped once the transport is closed (its close listeners have been told).
   *
   * @throws when the frame cannot be serialized (a function or a class instance in a payload): at
   *   the sender, loudly, never as a silent loss on the way.
   */
  send(frame: TransportFrame, options?: TransportSendOptions): void;
  /** Listens for frames from the other side, in the order they were sent. Returns a function that stops listening. */
  onFrame(listener: (frame: TransportFrame) => void): () => void;
  /** Listens for the close, told once (at once, on a microtask, when already closed). Returns a function that stops listening. */
  onClose(listener: (reason: TransportCloseReason) => void): () => void;
  /** True once the transport has closed, from either side. */
  readonly closed: boolean;
  /** Closes this side; the other side is told. Idempotent. */
  close(): Promise<void>;
}
