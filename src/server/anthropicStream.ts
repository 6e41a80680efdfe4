import type { FastifyReply } from 'fastify';
import type { GenerateStreamShape } from '../actors/ModelActor/types.js';
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
  /** A tool call is forced (`any` or a named tool): the reply has no text block. */
  forcedCall: boolean;
}

/**
 * @internal Streams one generation as the Messages API's server-sent events, each
 * `event: <type>\ndata: <json>`: `message_start`, `content_block_start`, `ping`, a
 * `content_block_delta` (`text_delta`) per token, `content_block_stop`, then per tool call a
 * `tool_use` block whose `input_json_delta`s join to its input, `message_delta` (stop reason and
 * usage), `message_stop`. An error before the first token is a plain HTTP error
 * (pipeStream throws it); after it, an `error` event ends the stream.
 */
export async function streamMessage(
  context: ServerContext,
  reply: FastifyReply,
  generation: GenerationStream<GenerateStreamShape>,
  signal: AbortSignal,
  message: StreamedMessage,
): Promise<FastifyReply> {
  const { id, model, inputTokens, stopSequences } = message;
  const send = <T extends { type: string }>(sse: SseWriter, data: T) => sse.send(data, data.type);
  // Content blocks in order: the text block (unless a call is forced), then a tool_use block per call.
  let index = -1;
  let open = false;
  const close = async (sse: SseWriter) => {
    if (open) await send(sse, { type: 'content_block_stop', index });
    open = false;
  };
  const openBlock = async (sse: SseWriter, block: object) => {
    await close(sse);
    index++;
    open = true;
    await send(sse, { type: 'content_block_start', index, content_block: block });
  };
  const onStart = async (sse: SseWriter) => {
    const start = messageObject(id, model, undefined);
    await send(sse, { type: 'message_start', message: { ...start, usage: { input_tokens: inputTokens, output_tokens: 0 } } });
    if (!message.forcedCall) await openBlock(sse, { type: 'text', text: '' });
    await send(sse, { type: 'ping' });
  };
  const onEvent = async (sse: SseWriter, event: TokenStreamEvent<GenerateStreamShape>) => {
    if (event.type === 'token') {
      const call = event.toolCall;
      if (call?.id !== undefined) await openBlock(sse, { type: 'tool_use', id: call.id, name: call.name, input: {} });
      if (call?.arguments) await send(sse, { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.arguments } });
      else if (!call && event.content) await send(sse, { type: 'content_block_delta', index, delta: { type: 'text_delta', text: event.content } });
    } else if (event.type === 'done') {
      if (index < 0) await openBlock(sse, { type: 'text', text: '' });
      await close(sse);
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
