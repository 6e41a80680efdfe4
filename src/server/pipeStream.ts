import type { FastifyReply } from 'fastify';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import type { DefaultStreamShape, TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { firstEvent } from './firstEvent.js';
import { SseWriter } from './SseWriter.js';

/** @internal How {@link pipeStream} writes one stream. */
export interface PipeStreamOptions<S = DefaultStreamShape> {
  /** The request's client-gone signal. */
  signal: AbortSignal;
  /** See {@link SseWriter}'s `writeTimeoutMs`. */
  writeTimeoutMs: number;
  /** Writes one event; resolve after `sse.send` so the client's pace is the producer's. */
  onEvent(sse: SseWriter, event: TokenStreamEvent<S>): Promise<unknown>;
  /** Writes what goes before the first event (the OpenAI role chunk). */
  onStart?(sse: SseWriter): Promise<unknown>;
}

/**
 * @internal Streams a {@link GenerationStream} as server-sent events. It waits for the first event
 * before answering: an error known before the first token (queue full, a bad parameter, an unknown
 * actor, a model that failed to load) is thrown instead, so the route answers it as a plain HTTP
 * error with its status (503 + Retry-After for overload), not as a 200 whose body says it failed.
 * Whatever happens, the iterator is returned (which cancels the stream if it is still running) and
 * the response ended, so a client that left releases the slot behind it.
 */
export async function pipeStream<S = DefaultStreamShape>(
  reply: FastifyReply,
  stream: GenerationStream<S>,
  options: PipeStreamOptions<S>,
): Promise<void> {
  const opened = await firstEvent(stream);
  const events = opened.events;
  let step = opened.step;
  reply.hijack();
  const sse = new SseWriter(reply.raw, { signal: options.signal, writeTimeoutMs: options.writeTimeoutMs });
  try {
    await options.onStart?.(sse);
    for (; !step.done && sse.open; step = await events.next()) await options.onEvent(sse, step.value);
  } finally {
    await events.return?.();
    sse.end();
  }
}
