import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationUsage } from '../actors/ModelActor/types.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { anthropicErrorHandler } from './anthropicErrorReply.js';
import { anthropicUsage, messageId, messageObject, stopReason, stopSequence } from './anthropicMessage.js';
import { type AnthropicRequest, anthropicRequest } from './anthropicRequest.js';
import { streamMessage } from './anthropicStream.js';
import { toolUseBlock } from './anthropicTools.js';
import { clientSignal } from './clientSignal.js';
import { countTokensSchema, messagesSchema } from './schemas/anthropic.js';
import type { ServerContext } from './ServerContext.js';

/** The prompt's token count, formatted as the generation formats it (the chat template, the tools, an open assistant turn). */
async function inputTokens(context: ServerContext, input: AnthropicRequest, signal: AbortSignal): Promise<number> {
  await context.models.getModel(input.model, { signal }); // 404 for anything that is not a published model
  const model = await context.models.ref(input.model, { signal });
  const { promptTokens } = await model.ask(ModelMessage.CountPromptTokens, { messages: input.messages, ...input.tools }, { timeout: 120_000, signal });
  return promptTokens;
}

/** Serves one `POST /v1/messages`: the whole message as JSON, or (`stream: true`) its events. */
async function createMessage(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const input = anthropicRequest(request.body);
  // Watched from the first byte of the request: a client gone at any stage stops its work.
  const signal = clientSignal(request);
  const id = messageId();
  const { model, messages, params, stopSequences } = input;
  // The stream's first event says how long the prompt is; the whole reply learns it from the generation.
  const counted = input.stream ? await inputTokens(context, input, signal) : 0;
  if (!input.stream) await context.models.getModel(model, { signal }); // 404 for anything that is not a published model
  const { stream: generation } = await context.models.openGeneration(model, { messages, params, ...input.tools }, { signal });
  if (input.stream) {
    const choice = input.tools.toolChoice;
    const forcedCall = choice === 'required' || (typeof choice === 'object' && choice !== null);
    return streamMessage(context, reply, generation, signal, { id, model, inputTokens: counted, stopSequences, forcedCall });
  }
  let usage: Partial<GenerationUsage> | undefined;
  generation.subscribe((event) => {
    if (event.type === 'done') usage = event.usage;
  });
  const result = await generation;
  context.metrics.generation(model, result);
  const calls = result.data?.toolCalls ?? [];
  const content = [...(result.text.length > 0 || calls.length === 0 ? [{ type: 'text' as const, text: result.text }] : []), ...calls.map(toolUseBlock)];
  return reply.send({
    ...messageObject(id, model, undefined),
    content,
    stop_reason: stopReason(result.finishReason),
    stop_sequence: stopSequence(result.finishReason, stopSequences),
    usage: anthropicUsage(usage),
  });
}

/**
 * @internal The Anthropic Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`),
 * with client tools, so the `@anthropic-ai/sdk` works unchanged. Errors answer in Anthropic's shape
 * with the status of their kind; server tools and document blocks are refused
 * (`UNSUPPORTED_PARAMETER`); image blocks reach the model, and one that cannot see refuses them
 * (`MODALITY_NOT_SUPPORTED`, 400).
 */
export function anthropicRoutes(app: FastifyInstance, context: ServerContext): void {
  const errorHandler = anthropicErrorHandler(context.logger);
  // A body that does not match its schema is a typed 400 too: errorHandler answers it in Anthropic's shape.
  app.post('/v1/messages', { schema: messagesSchema, errorHandler }, (request, reply) => createMessage(context, request, reply));
  app.post('/v1/messages/count_tokens', { schema: countTokensSchema, errorHandler }, async (request) => {
    const input = anthropicRequest(request.body);
    return { input_tokens: await inputTokens(context, input, clientSignal(request)) };
  });
}
