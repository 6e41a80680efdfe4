import type { Socket } from 'node:net';
import koffi from 'koffi';

/**
 * TCP sockets with small kernel buffers, through libc (koffi), for tests of backpressure over HTTP.
 *
 * Over loopback a client that stops reading lets the server write some MB before its `write`
 * blocks (measured here: ~4 MB with the default autotuned buffers), far more than a tiny model can
 * generate, so backpressure is never seen. Node offers no `SO_RCVBUF` / `SO_SNDBUF` for TCP; these
 * helpers set them: {@link SmallWindowClient} is a client socket with a small receive buffer, set
 * before it connects (so the window it advertises is small), that reads only when told to, and
 * {@link shrinkSendBuffer} shrinks the send buffer of a socket the server accepted. Linux only.
 */

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const EINTR = 4;

let libc: ReturnType<typeof bind> | undefined;
function bind() {
  const lib = koffi.load('libc.so.6');
  return {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    getsockopt: lib.func('int getsockopt(int, int, int, _Out_ void *, _Inout_ uint32_t *)'),
    getsockname: lib.func('int getsockname(int, _Out_ void *, _Inout_ uint32_t *)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    send: lib.func('intptr_t send(int, const void *, uintptr_t, int)'),
    recv: lib.func('intptr_t recv(int, _Out_ void *, uintptr_t, int)'),
    close: lib.func('int close(int)'),
  };
}
const c = () => (libc ??= bind());

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return buffer;
}

function check(result: number, what: string): number {
  if (result < 0) throw new Error(`${what} failed: errno ${koffi.errno()}`);
  return result;
}

function bufferSize(fd: number, option: number): number {
  const value = Buffer.alloc(4);
  check(Number(c().getsockopt(fd, SOL_SOCKET, option, value, [4])), 'getsockopt');
  return value.readInt32LE();
}

/**
 * Sets `SO_SNDBUF` of a socket the server accepted (the kernel doubles the value for its
 * bookkeeping and disables autotuning); returns the size the kernel reports. Uses the socket's
 * libuv handle's fd, a Node internal (stable on Linux for years).
 */
export function shrinkSendBuffer(socket: Socket, bytes: number): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor');
  check(Number(c().setsockopt(fd, SOL_SOCKET, SO_SNDBUF, int32(bytes), 4)), 'setsockopt(SO_SNDBUF)');
  return bufferSize(fd, SO_SNDBUF);
}

/**
 * A blocking-connect, non-blocking-read TCP client on 127.0.0.1 with `SO_RCVBUF` set before it
 * connects. It never reads on its own: bytes wait in its (small) kernel buffer until {@link read}.
 * Connect and the request's send are blocking calls; on loopback to a listening socket they
 * complete without the server's event loop (the kernel finishes the handshake and buffers the
 * request), so they are safe in the server's own process.
 */
export class SmallWindowClient {
  readonly fd: number;
  /** Everything read so far. */
  received: Buffer = Buffer.alloc(0);
  private readonly chunk = Buffer.alloc(64 * 1024);

  constructor(port: number, receiveBuffer: number) {
    this.fd = check(c().socket(AF_INET, SOCK_STREAM, 0) as number, 'socket');
    check(Number(c().setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, int32(receiveBuffer), 4)), 'setsockopt(SO_RCVBUF)');
    const address = Buffer.alloc(16);
    address.writeUInt16LE(AF_INET, 0);
    address.writeUInt16BE(port, 2);
    address.set([127, 0, 0, 1], 4);
    check(Number(c().connect(this.fd, address, 16)), 'connect');
  }

  /** The kernel's receive buffer size (`SO_RCVBUF`, doubled by the kernel). */
  get receiveBuffer(): number {
    return bufferSize(this.fd, SO_RCVBUF);
  }

  /** The client's local port: the server side sees it as `remotePort`. */
  get localPort(): number {
    const address = Buffer.alloc(16);
    check(Number(c().getsockname(this.fd, address, [16])), 'getsockname');
    return address.readUInt16BE(2);
  }

  send(text: string): void {
    const bytes = Buffer.from(text);
    for (let sent = 0; sent < bytes.length; ) {
      const n = Number(c().send(this.fd, bytes.subarray(sent), bytes.length - sent, 0));
      if (n < 0 && koffi.errno() === EINTR) continue;
      sent += check(n, 'send');
    }
  }

  /** Reads what the kernel holds now, without waiting; returns how many bytes came. */
  read(): number {
    let total = 0;
    for (;;) {
      const n = Number(c().recv(this.fd, this.chunk, this.chunk.length, MSG_DONTWAIT));
      if (n > 0) {
        this.received = Buffer.concat([this.received, this.chunk.subarray(0, n)]);
        total += n;
        continue;
      }
      if (n === 0) return total; // the server closed
      const errno = koffi.errno();
      if (errno === EAGAIN || errno === EINTR) return total;
      throw new Error(`recv failed: errno ${errno}`);
    }
  }

  /** Reads (yielding to the event loop between tries) until `done(received)` holds or `timeoutMs` passes. */
  async readUntil(done: (received: Buffer) => boolean, timeoutMs: number): Promise<void> {
    for (const deadline = Date.now() + timeoutMs; !done(this.received); ) {
      if (Date.now() > deadline) throw new Error(`read timed out after ${timeoutMs} ms with ${this.received.length} bytes`);
      if (this.read() === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  close(): void {
    c().close(this.fd);
  }
}
