import type { ServerResponse } from 'node:http';
import { drained } from './drained.js';

/** Options of {@link SseWriter}. */
export interface SseWriterOptions {
  /** Fires when the client has gone away; writing stops at once. */
  signal: AbortSignal;
  /**
   * Longest wait for a client that stops reading (its socket buffer full) before the connection is
   * cut: without it such a client would hold its generation's slot forever.
   */
  writeTimeoutMs: number;
}

/**
 * @internal Server-sent events on a raw response, with backpressure: `send` resolves when the
 * socket has taken the data, so a slow client slows the producer instead of filling memory. A
 * client that has gone, or that takes nothing for `writeTimeoutMs`, makes `send` resolve `false`
 * at once, never wait: the caller must not hang on a `drain` that cannot come.
 */
export class SseWriter {
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: SseWriterOptions,
  ) {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
  }

  /** False once the client has gone (or the stream ended): nothing more can be written. */
  get open(): boolean {
    return !this.ended && !this.options.signal.aborted && !this.response.destroyed;
  }

  /** Writes one event (`data: <json>`), optionally named; waits for the socket to drain. */
  async send(data: unknown, event?: string): Promise<boolean> {
    if (!this.open) return false;
    const text = `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    if (this.response.write(text)) return true;
    return drained(this.response, this.options, () => this.open);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.response.destroyed) this.response.end();
  }
}
