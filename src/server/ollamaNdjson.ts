import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { ActorError, ErrorCode } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { type DefaultStreamShape, StreamEventType, type TokenStreamEvent } from '../messaging/TokenStreamEvent.js';

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
    const { signal, writeTimeoutMs } = this.options;
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.response.off('drain', onDrain);
        this.response.off('close', onClose);
        signal.removeEventListener('abort', onClose);
        resolve(ok);
      };
      const onDrain = (): void => finish(true);
      const onClose = (): void => finish(false);
      const timer = setTimeout(() => {
        this.response.destroy(new Error(`client read nothing for ${writeTimeoutMs} ms`));
        finish(false);
      }, writeTimeoutMs);
      this.response.on('drain', onDrain);
      this.response.on('close', onClose);
      signal.addEventListener('abort', onClose, { once: true });
      if (!this.open) finish(false);
    });
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
  const events = stream[Symbol.asyncIterator]();
  let step: IteratorResult<TokenStreamEvent<S>>;
  try {
    step = await events.next();
  } catch (error) {
    await events.return?.();
    throw error;
  }
  if (!step.done && step.value.type === StreamEventType.Error) {
    await events.return?.();
    throw stream.stats.error ?? new ActorError(step.value.code ?? ErrorCode.ActorFailed, step.value.error ?? 'stream failed');
  }
  reply.hijack();
  const out = new NdjsonWriter(reply.raw, { signal: options.signal, writeTimeoutMs: options.writeTimeoutMs });
  try {
    for (; !step.done && out.open; step = await events.next()) await options.onEvent(out, step.value);
  } finally {
    await events.return?.();
    out.end();
  }
}
