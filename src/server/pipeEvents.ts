import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { clientSignal } from './clientSignal.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal Streams a GenerationStream's events as SSE (`event: token|done|error`); the client
 * leaving (at any stage: `clientSignal` watches from the first byte) aborts it, and an error known
 * before the first event is a plain HTTP error.
 */
export async function pipeEvents<S>(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  start: (signal: AbortSignal) => GenerationStream<S>,
): Promise<FastifyReply> {
  const signal = clientSignal(request);
  await pipeStream(reply, start(signal), {
    signal,
    writeTimeoutMs: context.writeTimeoutMs,
    onEvent: (sse, event) => sse.send(event, event.type),
  });
  return reply;
}
