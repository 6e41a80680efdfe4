import type { ServerResponse } from 'node:http';

/**
 * @internal Server-sent events on a raw response, with backpressure: `send` resolves when the
 * socket has taken the data, so a slow client slows the producer instead of filling memory. The
 * `signal` fires when the client goes away, which is what aborts the generation behind it.
 */
export class SseWriter {
  private readonly controller = new AbortController();
  private ended = false;

  constructor(private readonly response: ServerResponse) {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.flushHeaders();
    response.on('close', () => {
      if (!this.ended) this.controller.abort(new Error('client disconnected'));
    });
  }

  /** Fires when the client disconnects before the stream ended. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Writes one event (`data: <json>`), optionally named; waits for the socket to drain. */
  async send(data: unknown, event?: string): Promise<void> {
    if (this.ended || this.controller.signal.aborted) return;
    const text = `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    if (!this.response.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.response.off('drain', done);
          this.response.off('close', done);
          resolve();
        };
        this.response.on('drain', done);
        this.response.on('close', done);
      });
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.response.end();
  }
}
