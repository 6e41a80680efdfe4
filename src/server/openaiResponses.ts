import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatMessage, GenerateRequest, ToolCall } from '../actors/ModelActor/types.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { clientSignal } from './clientSignal.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { inputMessages } from './openaiResponsesInput.js';
import { finishStatus, replyOutput, ResponseIds, type ResponseObject, responseObject, responsesUsage } from './openaiResponsesObject.js';
import { type ResponsesRequest, responsesRequest } from './openaiResponsesRequest.js';
import { RESPONSES_COLLECTION, ResponseStore, type StoredResponse } from './openaiResponsesStore.js';
import { createResponseSchema, deleteResponseSchema, getResponseSchema } from './schemas/openaiResponses.js';
import { streamResponse } from './openaiResponsesStream.js';
import type { ServerContext } from './ServerContext.js';

/** What one `POST /v1/responses` generates from, and how it stores what it generated. */
interface PreparedResponse {
  ids: ResponseIds;
  createdAt: number;
  generate: GenerateRequest;
  /** Stores the ended response with its conversation (unless `store: false`). */
  finish(response: ResponseObject, text: string, calls: ToolCall[]): Promise<void>;
}

/**
 * The conversation a request continues (its previous response's, without that response's
 * instructions) and the request's own input after it; the last message must be a user or tool
 * message (a final assistant message cannot be continued by the chat template).
 */
async function conversationOf(request: ResponsesRequest, store: ResponseStore, signal: AbortSignal) {
  const previous = request.previousResponseId === undefined ? undefined : await store.get(request.previousResponseId, { signal });
  const conversation: ChatMessage[] = [...(previous?.conversation ?? []), ...(await inputMessages(request.input, store, signal))];
  const last = conversation.at(-1);
  if (!last) throw new InvalidArgumentError('input is empty and there is no previous response: nothing to answer');
  if (last.role === 'assistant') {
    throw new UnsupportedParameterError('input', 'a final assistant message cannot be continued; end with a user message or a function_call_output');
  }
  return { previous, conversation };
}

/** Reads the request, resolves its conversation and says how to generate and store its response. */
async function prepare(store: ResponseStore, request: ResponsesRequest, signal: AbortSignal): Promise<PreparedResponse> {
  const { previous, conversation } = await conversationOf(request, store, signal);
  const ids = new ResponseIds();
  const root = previous?.root ?? ids.id;
  const messages: ChatMessage[] = request.instructions === undefined ? conversation : [{ role: 'system', content: request.instructions }, ...conversation];
  const withTools = request.tools.length > 0;
  const generate: GenerateRequest = {
    messages,
    params: request.params,
    ...(withTools ? { tools: request.tools } : {}),
    ...(withTools && request.toolChoice !== undefined ? { toolChoice: request.toolChoice } : {}),
    ...(withTools && request.parallelToolCalls !== undefined ? { parallelToolCalls: request.parallelToolCalls } : {}),
    // The conversation's continuations prefer the slot that holds its KV cache.
    session: request.cacheKey ?? root,
    ...(request.fairnessKey === undefined ? {} : { fairnessKey: request.fairnessKey }),
  };
  const finish = async (response: ResponseObject, text: string, calls: ToolCall[]) => {
    if (!request.store) return;
    const reply: ChatMessage = { role: 'assistant', content: text, ...(calls.length > 0 ? { toolCalls: calls } : {}) };
    const stored: StoredResponse = { id: ids.id, response, conversation: [...conversation, reply], root };
    await store.put(stored, { signal });
  };
  return { ids, createdAt: Math.floor(Date.now() / 1000), generate, finish };
}

/** Serves one `POST /v1/responses`: the whole Response object, or (`stream: true`) its events. */
async function createResponse(context: ServerContext, store: ResponseStore, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const input = responsesRequest(request.body);
  // Watched from the first byte of the request: a client gone at any stage stops its work.
  const signal = clientSignal(request);
  const { ids, createdAt, generate, finish } = await prepare(store, input, signal);
  await context.models.getModel(input.model, { signal }); // 404 for anything that is not a published model
  const { stream: generation } = await context.models.openGeneration(input.model, generate, { signal });
  if (input.stream) {
    return streamResponse(context, reply, generation, signal, {
      model: input.model,
      snapshot: (state) => responseObject(input.echo, ids, createdAt, state),
      itemId: (kind, index) => ids.item(kind, index),
      finish,
    });
  }
  const result = await generation;
  context.metrics.generation(input.model, result);
  const calls = result.data?.toolCalls ?? [];
  const output = replyOutput(ids, result.text, calls, result.finishReason);
  const response = responseObject(input.echo, ids, createdAt, { status: finishStatus(result.finishReason), output, usage: responsesUsage(result.usage) });
  await finish(response, result.text, calls);
  return reply.send(response);
}

/** `GET` and `DELETE` take no query parameters: one they would ignore is refused instead. */
function refuseQuery(request: FastifyRequest): void {
  const names = Object.keys((request.query ?? {}) as object);
  if (names.length > 0) throw new UnsupportedParameterError(names[0]!, 'this route takes no query parameters (no stream replay, no include)');
}

/**
 * @internal The OpenAI Responses API: `POST /v1/responses` (text and function tools, whole or
 * streamed), `GET /v1/responses/:id` (a stored response) and `DELETE /v1/responses/:id` (forgets
 * it). Stored responses live in the server's store; `previous_response_id` continues one.
 */
export function openaiResponsesRoutes(app: FastifyInstance, context: ServerContext): void {
  const store = new ResponseStore(context.store);
  app.post('/v1/responses', { schema: createResponseSchema }, (request, reply) => createResponse(context, store, request, reply));
  app.get<{ Params: { id: string } }>('/v1/responses/:id', { schema: getResponseSchema }, async (request) => {
    refuseQuery(request);
    return (await store.get(request.params.id, { signal: clientSignal(request) })).response;
  });
  app.delete<{ Params: { id: string } }>('/v1/responses/:id', { schema: deleteResponseSchema }, async (request) => {
    refuseQuery(request);
    const { id } = request.params;
    if (!(await store.delete(id, { signal: clientSignal(request) }))) throw new EntityNotFoundError(RESPONSES_COLLECTION, id);
    return { id, object: 'response.deleted', deleted: true };
  });
}
