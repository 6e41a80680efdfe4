import type { FastifyReply } from 'fastify';
import type { GenerationUsage } from '../actors/ModelActor/types.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import type { TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { anthropicErrorBody } from './anthropicErrorReply.js';
import { messageObject, stopReason, stopSequence } from './anthropicMessage.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';
import type { SseWriter } from './SseWriter.js';

/** @internal What a streamed Messages reply says about itself. */
export interface StreamedMessage {
  id: string;
  model: string;
  inputTokens: number;
  stopSequences: readonly string[];
}

/**
 * @internal Streams one generation as the Messages API's server-sent events, each
 * `event: <type>\ndata: <json>`: `message_start`, `content_block_start`, `ping`, a
 * `content_block_delta` (`text_delta`) per token, `content_block_stop`, `message_delta` (stop
 * reason and usage), `message_stop`. An error before the first token is a plain HTTP error
 * (pipeStream throws it); after it, an `error` event ends the stream.
 */
export async function streamMessage(
  context: ServerContext,
  reply: FastifyReply,
  generation: GenerationStream<{ usage: GenerationUsage }>,
  signal: AbortSignal,
  message: StreamedMessage,
): Promise<FastifyReply> {
  const { id, model, inputTokens, stopSequences } = message;
  const send = <T extends { type: string }>(sse: SseWriter, data: T) => sse.send(data, data.type);
  const onStart = async (sse: SseWriter) => {
    const start = messageObject(id, model, undefined);
    await send(sse, { type: 'message_start', message: { ...start, usage: { input_tokens: inputTokens, output_tokens: 0 } } });
    await send(sse, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    await send(sse, { type: 'ping' });
  };
  const onEvent = async (sse: SseWriter, event: TokenStreamEvent<{ usage: GenerationUsage }>) => {
    if (event.type === 'token') {
      if (event.content) await send(sse, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: event.content } });
    } else if (event.type === 'done') {
      await send(sse, { type: 'content_block_stop', index: 0 });
      await send(sse, {
        type: 'message_delta',
        delta: { stop_reason: stopReason(event.finishReason), stop_sequence: stopSequence(event.finishReason, stopSequences) },
        usage: { input_tokens: event.usage?.promptTokens ?? inputTokens, output_tokens: event.usage?.completionTokens ?? 0 },
      });
      await send(sse, { type: 'message_stop' });
    } else if (event.type === 'error') {
      await send(sse, anthropicErrorBody(generation.stats.error));
    }
  };
  await pipeStream(reply, generation, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent });
  context.metrics.generation(model, generation.stats);
  return reply;
}
