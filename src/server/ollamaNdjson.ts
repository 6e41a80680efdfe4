import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import type { DefaultStreamShape, TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { drained } from './drained.js';
import { firstEvent } from './firstEvent.js';

/**
 * @internal Newline-delimited JSON (`application/x-ndjson`, Ollama's streaming format) on a raw
 * response, with backpressure: `send` resolves when the socket took the line, so a slow client slows
 * the model. A client that has gone, or that reads nothing for `writeTimeoutMs` (then cut), makes
 * `send` resolve `false` at once.
 */
export class NdjsonWriter {
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: { signal: AbortSignal; writeTimeoutMs: number },
  ) {
    response.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    response.flushHeaders();
  }

  get open(): boolean {
    return !this.ended && !this.options.signal.aborted && !this.response.destroyed;
  }

  async send(line: unknown): Promise<boolean> {
    if (!this.open) return false;
    if (this.response.write(`${JSON.stringify(line)}\n`)) return true;
    return drained(this.response, this.options, () => this.open);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.response.destroyed) this.response.end();
  }
}

/**
 * @internal Streams a generation as NDJSON, like `pipeStream` does SSE: an error before the first
 * event is thrown (a plain HTTP error with its status); after it, `onEvent` writes it. The stream is
 * cancelled whatever happens (a client that left frees its slot) and the response ended.
 */
export async function pipeNdjson<S = DefaultStreamShape>(
  reply: FastifyReply,
  stream: GenerationStream<S>,
  options: { signal: AbortSignal; writeTimeoutMs: number; onEvent(out: NdjsonWriter, event: TokenStreamEvent<S>): Promise<unknown> },
): Promise<void> {
  const opened = await firstEvent(stream);
  const events = opened.events;
  let step = opened.step;
  reply.hijack();
  const out = new NdjsonWriter(reply.raw, { signal: options.signal, writeTimeoutMs: options.writeTimeoutMs });
  try {
    for (; !step.done && out.open; step = await events.next()) await options.onEvent(out, step.value);
  } finally {
    await events.return?.();
    out.end();
  }
}
