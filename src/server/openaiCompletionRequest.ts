import type { FastifyRequest } from 'fastify';
import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import type { InferenceRequest } from '../actors/SessionActor/types.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import type { ChatContentPart, ChatMessage, GenerateRequest, GenerateStreamShape, GenerationParams } from '../actors/ModelActor/types.js';
import { messageText } from '../actors/ModelActor/messageText.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { confinedPath } from './confinedPath.js';
import { imageUrlPart } from './imageParts.js';
import { openAiLogitBias, openAiPenalties } from './openaiParams.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { assistantToolCalls, openAiTools, toolMessage } from './openaiTools.js';
import { partsContent } from './partsContent.js';
import { RequestValidationError } from './schemas/validation.js';
import type { ServerContext } from './ServerContext.js';

/** @internal An OpenAI request body, loosely: every field is checked before use. */
export type Body = Record<string, unknown>;

/** @internal The body of an OpenAI request: a JSON object, or INVALID_ARGUMENT. */
export function openAiBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('the request body must be a JSON object');
  }
  return body as Body;
}

/** @internal The request's model (a non-empty string: the route schemas require it). */
export function modelId(body: Body): string {
  return body.model as string;
}

/** Text of a system, assistant or tool message's content: a string or text parts (the route schema checks the parts); an image part is refused, as images go in user messages only. */
function contentText(content: unknown, index: number): string {
  const image = Array.isArray(content) ? (content as Body[]).findIndex((part) => part.type === 'image_url') : -1;
  if (image >= 0) {
    const where = `messages[${index}].content[${image}]`;
    throw new RequestValidationError(`${where} is an image: images are taken in user messages only`, where);
  }
  const read = messageContent(content, index);
  // Text parts alone are joined into a string.
  return typeof read === 'string' ? read : '';
}

/**
 * A message's content: a string, or its parts in order, text and images (`image_url` parts: a
 * `data:image/...;base64,` URL or an `http(s)://` one, see imageUrlPart; `detail` is not used).
 * Text parts alone are joined into one string, as before images were read.
 */
function messageContent(content: unknown, index: number): string | ChatContentPart[] {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    // Parts of the route schema's kinds: text with its text, image_url with its url.
    const parts = (content as Body[]).map((part, j): ChatContentPart =>
      part.type === 'image_url' ? imageUrlPart((part.image_url as Body).url, `messages[${index}].content[${j}].image_url.url`) : { type: 'text', text: part.text as string },
    );
    return partsContent(parts);
  }
  // Absent or null: only an assistant message that calls tools may have no content.
  throw new InvalidArgumentError(`messages[${index}].content must be a string or an array of content parts, got ${JSON.stringify(content) ?? 'nothing'}`);
}

/** @internal The chat messages of a body whose shape chatCompletionsSchema checked (roles, contents, tool calls); images only in user messages. */
export function chatMessages(body: Body): ChatMessage[] {
  return (body.messages as Body[]).map((m, index): ChatMessage => {
    const role = (m.role === 'developer' ? 'system' : m.role) as 'system' | 'user' | 'assistant' | 'tool';
    if (role === 'tool') return toolMessage(m, index, contentText(m.content, index));
    if (role === 'assistant') {
      const toolCalls = assistantToolCalls(m);
      // An assistant message that only calls tools has content null.
      const content = toolCalls && (m.content === null || m.content === undefined) ? '' : contentText(m.content, index);
      return { role, content, ...(toolCalls ? { toolCalls } : {}) };
    }
    if (role === 'system') return { role, content: contentText(m.content, index) };
    return { role, content: messageContent(m.content, index) };
  });
}

/** OpenAI sampling fields → GenerationParams (the ModelActor validates the values). */
function generationParams(body: Body): GenerationParams {
  const params: GenerationParams = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) params.maxTokens = maxTokens as number;
  if (body.temperature !== undefined && body.temperature !== null) params.temperature = body.temperature as number;
  if (body.top_p !== undefined && body.top_p !== null) params.topP = body.top_p as number;
  if (body.seed !== undefined && body.seed !== null) params.seed = body.seed as number;
  const repeatPenalty = openAiPenalties(body, maxTokens);
  if (repeatPenalty) params.repeatPenalty = repeatPenalty;
  const logitBias = openAiLogitBias(body);
  if (logitBias) params.logitBias = logitBias;
  if (body.stop !== undefined && body.stop !== null) params.stop = typeof body.stop === 'string' ? [body.stop] : (body.stop as string[]);
  const format = body.response_format as Body | undefined;
  if (format !== undefined && format !== null) {
    if (format.type === 'json_schema') {
      const schema = (format.json_schema as Body | undefined)?.schema;
      if (typeof schema !== 'object' || schema === null) throw new InvalidArgumentError('response_format.json_schema.schema must be an object');
      params.jsonSchema = schema;
    } else if (format.type === 'json_object') {
      params.jsonSchema = { type: 'object' };
    }
  }
  return params;
}

/**
 * The extension field `adapters: [{path, scale?}]` (as llama.cpp's server takes `lora`): the LoRA
 * adapter set to generate with, `[]` for the base model. Paths must lie inside the adapter directories.
 */
async function requestAdapters(context: ServerContext, body: Body): Promise<Pick<GenerateRequest, 'adapters'>> {
  if (body.adapters === undefined || body.adapters === null) return {};
  // An array of { path, scale? } (the route schema checks it); the paths are confined here.
  return {
    adapters: await Promise.all(
      (body.adapters as Array<{ path: string; scale?: number }>).map(async (spec) => ({
        path: await confinedPath(context.adapterDirs, spec.path, 'adapter'),
        ...(spec.scale === undefined ? {} : { scale: spec.scale }),
      })),
    ),
  };
}

/** The session a request names (`session` in the body or `x-session-id`), if any. */
function sessionOf(request: FastifyRequest, body: Body): string | undefined {
  const header = request.headers['x-session-id'];
  const session = body.session ?? (Array.isArray(header) ? header[0] : header);
  if (session === undefined) return undefined;
  if (typeof session !== 'string' || session.length === 0) throw new InvalidArgumentError('session must be a non-empty string');
  return session;
}

/**
 * Runs the generations of an OpenAI route, one per choice (`n`), each a sequence of its own that
 * the engine batches with the others: through the named session (its history and KV cache; only
 * the last user message is new; one choice) or statelessly against the model. With a `seed`,
 * choice `i` samples with `seed + i`, so choices differ (unless greedy) and each is reproducible.
 * Aborts when `signal` fires; choices already started are cancelled if a later one fails to start.
 *
 * @internal
 */
export async function startGenerations(
  context: ServerContext,
  request: FastifyRequest,
  body: Body,
  request_: { messages?: ChatMessage[]; prompt?: string },
  signal: AbortSignal,
  options: { logprobs: boolean; n: number; topLogprobs?: number },
): Promise<GenerationStream<GenerateStreamShape>[]> {
  const params = generationParams(body);
  const tools = openAiTools(body);
  if (!request_.messages && (tools.tools || tools.toolChoice)) throw new UnsupportedParameterError('tools', 'only chat completions call tools');
  const session = sessionOf(request, body);
  if (session !== undefined) {
    if (options.logprobs) throw new UnsupportedParameterError('logprobs', 'not with a session (a session turn carries no logprobs); send the messages without one');
    if (options.n > 1) throw new UnsupportedParameterError('n', 'only 1 with a session (a session turn has one reply); send the messages without one');
    const messages = request_.messages ?? [{ role: 'user' as const, content: request_.prompt ?? '' }];
    const chat = context.router.ref(await context.sessions.load(session, { signal }), sessionProtocol);
    const inference: InferenceRequest = { ...sessionInput(messages, modelId(body)), params, ...tools };
    return [chat.stream(SessionMessage.Inference, inference, { signal })];
  }
  const adapters = await requestAdapters(context, body);
  await context.models.getModel(modelId(body), { signal }); // 404 for anything that is not a published model
  const streams: GenerationStream<GenerateStreamShape>[] = [];
  try {
    for (let i = 0; i < options.n; i++) {
      const choiceParams = params.seed === undefined || i === 0 ? params : { ...params, seed: (params.seed + i) % 2 ** 32 };
      const generate: GenerateRequest = { ...request_, ...tools, params: choiceParams, ...adapters, ...(options.logprobs ? { logprobs: true } : {}), ...(options.topLogprobs ? { topLogprobs: options.topLogprobs } : {}) };
      // Wrapped by openGeneration: a GenerationStream is itself awaitable.
      streams.push((await context.models.openGeneration(modelId(body), generate, { signal })).stream);
    }
  } catch (error) {
    for (const stream of streams) stream.cancel();
    throw error;
  }
  return streams;
}

/**
 * What a session turn takes from an OpenAI conversation: the session holds the history, so only
 * the new part is read: the last user message, or the tool messages that end the conversation
 * (the results of the session's last reply's calls).
 */
function sessionInput(messages: ChatMessage[], model: string): Pick<InferenceRequest, 'message' | 'toolResults'> {
  const last = messages.at(-1);
  if (last?.role === 'tool') {
    let first = messages.length;
    while (first > 0 && messages[first - 1]?.role === 'tool') first--;
    return { toolResults: messages.slice(first).map((m, i) => ({ toolCallId: m.toolCallId ?? '', content: messageText(m.content, model, `messages[${first + i}].content`) })) };
  }
  if (last?.role !== 'user') throw new InvalidArgumentError('with a session, the last message must be the new user message or the tool results');
  return { message: messageText(last.content, model, `messages[${messages.length - 1}].content`) };
}

/** @internal The legacy completions' prompt: a string, or an array of one string (completionsSchema). */
export function textPrompt(body: Body): string {
  return (Array.isArray(body.prompt) ? body.prompt[0] : body.prompt) as string;
}
