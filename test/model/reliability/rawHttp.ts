import { connect, type Socket } from 'node:net';

/**
 * A plain-socket HTTP/1.1 client. fetch and node:http refuse to send most of what a fuzzer wants
 * to (unknown methods, unescaped paths, bad header bytes, bodies that are not what their headers
 * say), and hide what a server does with a connection; here the request is bytes and the answer
 * is read off the wire, so "the server closed without answering" is visible too.
 */

/** What came back for one request. */
export interface RawResponse {
  /** `answered`: a full response; `closed`: the connection ended without one; `timeout`: nothing in time. */
  outcome: 'answered' | 'closed' | 'timeout';
  /** The final status (1xx interim answers skipped); 0 without an answer. */
  status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body, de-chunked. */
  body: Buffer;
}

/** The pieces of a request, serialised by {@link requestBytes}. */
export interface RawRequest {
  method: string;
  target: string;
  /** `HTTP/1.1` unless set. */
  version?: string;
  headers: Array<[string, string]>;
  body?: Buffer;
}

/** A request as bytes; headers exactly as given (latin1, so any byte can be sent). */
export function requestBytes(request: RawRequest): Buffer {
  const head = `${request.method} ${request.target} ${request.version ?? 'HTTP/1.1'}\r\n${request.headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), request.body ?? Buffer.alloc(0)]);
}

/** A chunked-transfer encoding of `body` in pieces of `size` bytes. */
export function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Incremental response parser: feed bytes, ask whether a whole (final) response has arrived. */
export class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  status = 0;
  headers: Record<string, string> = {};
  /** Offset of the body in `buffer`, once the final head has been read. */
  private bodyStart = -1;
  body: Buffer = Buffer.alloc(0);
  complete = false;

  constructor(private readonly method: string) {}

  /** Raw body bytes so far (chunk framing included), for watching a stream as it comes. */
  get rawBody(): Buffer {
    return this.bodyStart < 0 ? Buffer.alloc(0) : this.buffer.subarray(this.bodyStart);
  }

  /** True once the status line and headers of the final response are in. */
  get headed(): boolean {
    return this.bodyStart >= 0;
  }

  feed(data: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, data]);
    while (this.bodyStart < 0) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status >= 100 && status < 200 && status !== 101) {
        this.buffer = this.buffer.subarray(end + 4); // an interim answer (100 Continue): the real one follows
        continue;
      }
      this.status = status;
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        this.headers[name] = this.headers[name] === undefined ? value : `${this.headers[name]}, ${value}`;
      }
      this.bodyStart = end + 4;
    }
    this.parseBody(false);
  }

  /** Called when the connection closed: a body delimited by the close is complete now. */
  closed(): void {
    if (this.bodyStart >= 0 && !this.complete) this.parseBody(true);
  }

  private parseBody(atClose: boolean): void {
    const raw = this.rawBody;
    if (this.method === 'HEAD' || this.status === 204 || this.status === 304) {
      this.complete = true;
    } else if (/chunked/i.test(this.headers['transfer-encoding'] ?? '')) {
      const decoded = dechunk(raw);
      if (decoded) {
        this.body = decoded;
        this.complete = true;
      }
    } else if (this.headers['content-length'] !== undefined) {
      const length = Number(this.headers['content-length']);
      if (raw.length >= length) {
        this.body = raw.subarray(0, length);
        this.complete = true;
      }
    } else if (atClose) {
      this.body = raw;
      this.complete = true;
    }
  }
}

/** The data of a complete chunked body, or undefined while the last chunk has not arrived. */
function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (raw.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** Give up (outcome `timeout`) after this long with no complete answer. */
  timeoutMs: number;
  /** Called once the socket is connected, instead of writing `request` at once (slow or partial writers). */
  write?: (socket: Socket) => void;
  /** Called on every data event with the reader (to abort mid-stream); return true to destroy the socket. */
  onData?: (reader: ResponseReader) => boolean;
}

/**
 * Sends `request` on a fresh connection to 127.0.0.1:`port` and reads one response; the socket is
 * destroyed once a full response is in (keep-alive or not), or when `onData` asks for it.
 */
export function exchange(port: number, request: RawRequest, options: ExchangeOptions): Promise<RawResponse & { aborted: boolean }> {
  return new Promise((resolve) => {
    const reader = new ResponseReader(request.method.toUpperCase());
    const socket = connect(port, '127.0.0.1');
    let settled = false;
    const finish = (outcome: RawResponse['outcome'], aborted = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const answered = outcome === 'answered';
      resolve({ outcome, aborted, status: answered || aborted ? reader.status : 0, headers: reader.headers, body: reader.body });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs);
    socket.on('connect', () => {
      if (options.write) options.write(socket);
      else socket.write(requestBytes(request));
    });
    socket.on('data', (data: Buffer) => {
      reader.feed(data);
      if (reader.complete) finish('answered');
      else if (options.onData?.(reader)) finish('closed', true);
    });
    socket.on('error', () => {}); // a reset is an outcome like any other: seen on close
    socket.on('close', () => {
      reader.closed();
      finish(reader.complete ? 'answered' : 'closed');
    });
  });
}

/** The coded error of a JSON error body, or a description of what is wrong with it. */
export function errorOf(response: RawResponse): { code: string; message: string } | string {
  const type = response.headers['content-type'] ?? '';
  if (!type.includes('application/json')) return `content-type ${JSON.stringify(type)} is not JSON`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body.toString('utf8'));
  } catch {
    return `body is not JSON: ${response.body.subarray(0, 200).toString('utf8')}`;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || error.code.length === 0) return `no error.code in ${JSON.stringify(parsed).slice(0, 200)}`;
  if (typeof error.message !== 'string') return `error.message is not a string in ${JSON.stringify(parsed).slice(0, 200)}`;
  return { code: error.code, message: error.message };
}
