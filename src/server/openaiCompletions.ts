import type { FastifyReply, FastifyRequest } from 'fastify';
import { nanoid } from 'nanoid';
import type { GenerateStreamShape, GenerationUsage, ToolCall } from '../actors/ModelActor/types.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { clientSignal } from './clientSignal.js';
import { type CompletionAnswer, choicesUsage, finishReason, openAiLogprobs } from './openaiChoices.js';
import { type Body, chatMessages, modelId, openAiBody, startGenerations, textPrompt } from './openaiCompletionRequest.js';
import { streamedAnswer } from './openaiCompletionStream.js';
import { checkUnsupported, LogprobEntries, type OpenAiTokenLogprob } from './openaiParams.js';
import { openAiToolCalls } from './openaiTools.js';
import type { ServerContext } from './ServerContext.js';

/** @internal Serves one chat or text completion, streamed as OpenAI SSE chunks or as one JSON object. */
export async function complete(context: ServerContext, request: FastifyRequest, reply: FastifyReply, kind: 'chat' | 'text') {
  const body = openAiBody(request.body);
  const model = modelId(body);
  const input = kind === 'chat' ? { messages: chatMessages(body) } : { prompt: textPrompt(body) };
  const stream = body.stream === true;
  const includeUsage = (body.stream_options as Body | undefined)?.include_usage === true;
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${nanoid()}`;
  const created = Math.floor(Date.now() / 1000);
  const { logprobs, topLogprobs, n } = checkUnsupported(body);
  const answer: CompletionAnswer = { kind, id, created, model, logprobs };

  // Watched from the first byte of the request: a client gone at any stage stops its work.
  const signal = clientSignal(request);
  const generations = await startGenerations(context, request, body, input, signal, { logprobs, topLogprobs, n });
  if (!stream) return wholeAnswer(context, reply, generations, answer);
  return streamedAnswer(context, reply, generations, signal, { ...answer, includeUsage });
}

/** Sends a completion's choices as one JSON object once every one has ended (`stream` not true). */
async function wholeAnswer(
  context: ServerContext,
  reply: FastifyReply,
  generations: GenerationStream<GenerateStreamShape>[],
  answer: CompletionAnswer,
): Promise<FastifyReply> {
  const { kind, id, created, model, logprobs } = answer;
  const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
  const usages: (Partial<GenerationUsage> | undefined)[] = [];
  const choices = await Promise.all(
    generations.map(async (generation, index) => {
      const entries = new LogprobEntries();
      const content: OpenAiTokenLogprob[] = [];
      generation.subscribe((event) => {
        if (event.type === 'done') usages[index] = event.usage;
        else if (event.type === 'token' && logprobs) {
          const entry = entries.push(event);
          if (entry) content.push(entry);
        }
      });
      const result = await generation;
      context.metrics.generation(model, result);
      const choiceLogprobs = logprobs ? openAiLogprobs(kind, content, 0) : null;
      const reason = finishReason(result.finishReason);
      return kind === 'chat'
        ? { index, message: chatMessage(result.text, result.data?.toolCalls), finish_reason: reason, logprobs: choiceLogprobs }
        : { index, text: result.text, finish_reason: reason, logprobs: choiceLogprobs };
    }),
  ).catch((error: unknown) => {
    for (const generation of generations) generation.cancel();
    throw error;
  });
  return reply.send({ id, object, created, model, choices, usage: choicesUsage(generations.map((_, i) => usages[i])) });
}

/** A chat choice's message: its text, or `content: null` and the calls when the model called tools. */
function chatMessage(text: string, toolCalls: readonly ToolCall[] | undefined) {
  if (!toolCalls || toolCalls.length === 0) return { role: 'assistant', content: text };
  return { role: 'assistant', content: text.length > 0 ? text : null, tool_calls: openAiToolCalls(toolCalls) };
}
