import type { FastifyReply } from 'fastify';
import type { GenerationUsage, ToolCall } from '../actors/ModelActor/types.js';
import { ActorError, ErrorCode } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import type { TokenStreamEvent, ToolCallDelta } from '../messaging/TokenStreamEvent.js';
import { errorBody } from './httpErrors.js';
import {
  finishStatus,
  functionCallItem,
  type ItemStatus,
  messageItem,
  type OutputFunctionCall,
  type OutputItem,
  type OutputMessage,
  outputText,
  type ResponseObject,
  responsesUsage,
} from './openaiResponsesObject.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';
import type { SseWriter } from './SseWriter.js';

type Shape = { usage: GenerationUsage; data: { toolCalls?: ToolCall[] } };

/** @internal What the stream writer needs of the response it streams. */
export interface StreamedResponse {
  /** The response as it stands, for the lifecycle events. */
  snapshot(state: Pick<ResponseObject, 'status' | 'output' | 'usage'> & Partial<Pick<ResponseObject, 'error'>>): ResponseObject;
  /** The id of the output item at `index`. */
  itemId(kind: 'message' | 'function_call', index: number): string;
  /** Called with the ended response before its last event (stores it): a throw fails the stream instead. */
  finish(response: ResponseObject, text: string, calls: ToolCall[]): Promise<void>;
}

/**
 * Writes the Responses API's named events for one generation, each with the next
 * `sequence_number`: output items are opened as text or a call first arrives, and each is closed
 * (its `.done` events) before the next one opens, so items never interleave.
 */
class ResponseEventWriter {
  private sequence = 0;
  private readonly output: OutputItem[] = [];
  /** The message being written, with its text so far. */
  private message: { index: number; item: OutputMessage; text: string } | undefined;
  /** The call being written, by the engine's call index. */
  private call: { index: number; item: OutputFunctionCall; engineIndex: number } | undefined;
  /** Output index of each call, by the engine's call index. */
  private readonly callsSeen = new Map<number, number>();
  private text = '';

  constructor(
    private readonly sse: SseWriter,
    private readonly response: StreamedResponse,
  ) {}

  private send<T extends { type: string }>(data: T): Promise<boolean> {
    return this.sse.send({ ...data, sequence_number: this.sequence++ }, data.type);
  }

  async start(): Promise<void> {
    const response = this.response.snapshot({ status: 'in_progress', output: [], usage: null });
    await this.send({ type: 'response.created', response });
    await this.send({ type: 'response.in_progress', response });
  }

  async token(event: TokenStreamEvent<Shape>): Promise<void> {
    if (event.toolCall) return this.callDelta(event.toolCall);
    if (!event.content) return;
    if (!this.message) await this.openMessage();
    const message = this.message!;
    message.text += event.content;
    this.text += event.content;
    const at = { item_id: message.item.id, output_index: message.index, content_index: 0 };
    await this.send({ type: 'response.output_text.delta', ...at, delta: event.content, logprobs: [] });
  }

  private async openMessage(): Promise<void> {
    await this.closeCall('completed');
    const index = this.output.length;
    const item = messageItem(this.response.itemId('message', index), '', 'in_progress');
    this.output.push(item);
    this.message = { index, item, text: '' };
    await this.send({ type: 'response.output_item.added', output_index: index, item });
    await this.send({ type: 'response.content_part.added', item_id: item.id, output_index: index, content_index: 0, part: outputText('') });
  }

  private async closeMessage(status: ItemStatus): Promise<void> {
    const message = this.message;
    if (!message) return;
    this.message = undefined;
    const at = { item_id: message.item.id, output_index: message.index, content_index: 0 };
    await this.send({ type: 'response.output_text.done', ...at, text: message.text, logprobs: [] });
    await this.send({ type: 'response.content_part.done', ...at, part: outputText(message.text) });
    const item = messageItem(message.item.id, message.text, status);
    this.output[message.index] = item;
    await this.send({ type: 'response.output_item.done', output_index: message.index, item });
  }

  private async callDelta(delta: ToolCallDelta): Promise<void> {
    if (this.call?.engineIndex !== delta.index) {
      await this.closeMessage('completed');
      await this.closeCall('completed');
      await this.openCall(delta.index, { id: delta.id ?? `call_${delta.index}`, name: delta.name ?? '', arguments: '' });
    }
    if (!delta.arguments) return;
    const call = this.call!;
    call.item.arguments += delta.arguments;
    await this.send({ type: 'response.function_call_arguments.delta', item_id: call.item.id, output_index: call.index, delta: delta.arguments });
  }

  private async openCall(engineIndex: number, call: ToolCall): Promise<void> {
    const index = this.output.length;
    const item = functionCallItem(this.response.itemId('function_call', index), call, 'in_progress');
    this.output.push(item);
    this.callsSeen.set(engineIndex, index);
    this.call = { index, item, engineIndex };
    await this.send({ type: 'response.output_item.added', output_index: index, item: { ...item, arguments: '' } });
  }

  /** Closes the open call; `final` (from the `done` event) is its authoritative text. */
  private async closeCall(status: ItemStatus, final?: ToolCall): Promise<void> {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    const item = { ...call.item, ...(final ? { call_id: final.id, name: final.name, arguments: final.arguments } : {}), status };
    this.output[call.index] = item;
    await this.send({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: call.index, name: item.name, arguments: item.arguments });
    await this.send({ type: 'response.output_item.done', output_index: call.index, item });
  }

  /**
   * Closes what is open, adds the calls the `done` event names that no delta streamed (and an empty
   * message when there is no output at all), stores the response, then sends its last event.
   */
  async done(event: TokenStreamEvent<Shape>): Promise<void> {
    const status = finishStatus(event.finishReason);
    const calls = event.data?.toolCalls ?? [];
    await this.closeMessage(status);
    // A call the length limit cut is not among the done event's calls: incomplete.
    const open = this.call ? calls[this.call.engineIndex] : undefined;
    await this.closeCall(this.call && !open ? 'incomplete' : 'completed', open);
    for (const [engineIndex, call] of calls.entries()) {
      if (this.callsSeen.has(engineIndex)) continue;
      await this.openCall(engineIndex, { ...call, arguments: '' });
      await this.callDelta({ index: engineIndex, arguments: call.arguments });
      await this.closeCall('completed', call);
    }
    if (this.output.length === 0) {
      await this.openMessage();
      await this.closeMessage(status);
    }
    // The done event's calls are the authoritative ones: what is stored and returned.
    for (const [engineIndex, index] of this.callsSeen) {
      const call = calls[engineIndex];
      const item = this.output[index];
      if (call && item?.type === 'function_call') this.output[index] = { ...item, call_id: call.id, name: call.name, arguments: call.arguments };
    }
    const response = this.response.snapshot({ status, output: this.output, usage: null });
    const ended = { ...response, usage: responsesUsage(event.usage) };
    try {
      await this.response.finish(ended, this.text, calls);
    } catch (error) {
      return this.failed(error);
    }
    await this.send({ type: status === 'incomplete' ? 'response.incomplete' : 'response.completed', response: ended });
  }

  /** `response.failed`, with the error's code and message (the OpenAI error body's). */
  async failed(error: unknown): Promise<void> {
    const { code, message } = errorBody(error).error;
    await this.closeMessage('incomplete');
    await this.closeCall('incomplete');
    const response = this.response.snapshot({ status: 'failed', output: this.output, usage: null, error: { code, message } });
    await this.send({ type: 'response.failed', response });
  }
}

/**
 * @internal Streams one generation as the Responses API's server-sent events (`event: <type>` +
 * `data: <json>` with a `sequence_number`): `response.created`, `response.in_progress`, then per
 * output item `response.output_item.added`, its content (`response.content_part.added`,
 * `response.output_text.delta`… `response.output_text.done`, `response.content_part.done`, or
 * `response.function_call_arguments.delta`… `.done`), `response.output_item.done`; then
 * `response.completed` (or `response.incomplete` at `max_output_tokens`). An error before the first
 * token is a plain HTTP error (pipeStream throws it); after it, `response.failed` ends the stream.
 * A client that goes away before the reply ends cancels the generation (its slot is released), and
 * nothing is stored.
 */
export async function streamResponse(
  context: ServerContext,
  reply: FastifyReply,
  generation: GenerationStream<Shape>,
  signal: AbortSignal,
  response: StreamedResponse & { model: string },
): Promise<FastifyReply> {
  let writer: ResponseEventWriter | undefined;
  const onStart = async (sse: SseWriter) => {
    writer = new ResponseEventWriter(sse, response);
    await writer.start();
  };
  const onEvent = async (_sse: SseWriter, event: TokenStreamEvent<Shape>) => {
    if (event.type === 'token') await writer!.token(event);
    else if (event.type === 'done') await writer!.done(event);
    else if (event.type === 'error') await writer!.failed(generation.stats.error ?? new ActorError(event.code ?? ErrorCode.ActorFailed, event.error ?? 'generation failed'));
  };
  await pipeStream(reply, generation, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent });
  context.metrics.generation(response.model, generation.stats);
  return reply;
}
