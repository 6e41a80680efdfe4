import { readFile } from 'node:fs/promises';
import type OpenAI from 'openai';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { ModalityNotSupportedError } from '../ModelActor/modelErrors.js';
import type { ChatContentPart, ChatImagePart, ChatMessage, GenerateRequest, GenerationParams } from '../ModelActor/types.js';
import { NotSupportedByProviderError } from './remoteErrors.js';

type MessageParam = OpenAI.Chat.ChatCompletionMessageParam;
type UserPart = OpenAI.Chat.ChatCompletionContentPart;

/** The body of one upstream request: OpenAI's fields plus the sampling fields vLLM and llama-server also read. */
export type UpstreamBody = Record<string, unknown>;

/** @internal What building a body needs to know of its model. */
export interface BodyContext {
  /** The model's name on the remote. */
  model: string;
  /** The local model id, for the messages. */
  name: string;
  vision: boolean;
  defaultParams: GenerationParams | undefined;
}

const PROVIDER = 'openai-compatible';

/**
 * @internal A GenerateRequest as the body of `POST /chat/completions` (messages) or `POST
 * /completions` (a bare prompt), streaming with usage. Sampling fields OpenAI lacks (`top_k`,
 * `min_p`, `repeat_penalty`) are sent only when the request sets them, so a strict remote never sees
 * a field it does not know unless asked. What a remote cannot do is refused here, before any request:
 * adapters (`NOT_SUPPORTED_BY_PROVIDER`), images to a model without vision (`MODALITY_NOT_SUPPORTED`).
 */
export async function upstreamBody(request: GenerateRequest, context: BodyContext): Promise<{ chat: boolean; body: UpstreamBody }> {
  if (request.adapters !== undefined && request.adapters.length > 0) {
    throw new NotSupportedByProviderError('LoRA adapters', PROVIDER, `model ${context.name} runs on a remote server, which applies no adapters of this runtime`);
  }
  const params = { ...context.defaultParams, ...request.params };
  const sampling = samplingFields(params);
  const logprobs = request.logprobs || request.topLogprobs !== undefined;
  if (request.messages !== undefined && request.messages.length > 0) {
    const messages = await Promise.all(request.messages.map((message, i) => upstreamMessage(message, i, context)));
    const body: UpstreamBody = {
      model: context.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...sampling,
      ...toolFields(request),
      ...(logprobs ? { logprobs: true, ...(request.topLogprobs ? { top_logprobs: request.topLogprobs } : {}) } : {}),
    };
    return { chat: true, body };
  }
  if (typeof request.prompt !== 'string' || request.prompt.length === 0) {
    throw new InvalidArgumentError('generate needs a prompt or messages');
  }
  if (request.tools !== undefined && request.tools.length > 0) throw new InvalidArgumentError('tools need messages, not a bare prompt');
  const body: UpstreamBody = {
    model: context.model,
    prompt: request.prompt,
    stream: true,
    stream_options: { include_usage: true },
    ...sampling,
    ...(logprobs ? { logprobs: request.topLogprobs ?? 1 } : {}),
  };
  return { chat: false, body };
}

function samplingFields(params: GenerationParams): UpstreamBody {
  const fields: UpstreamBody = {};
  if (params.maxTokens !== undefined) fields.max_tokens = params.maxTokens;
  if (params.temperature !== undefined) fields.temperature = params.temperature;
  if (params.topP !== undefined) fields.top_p = params.topP;
  if (params.topK !== undefined) fields.top_k = params.topK;
  if (params.minP !== undefined) fields.min_p = params.minP;
  if (params.seed !== undefined) fields.seed = params.seed;
  if (params.stop !== undefined && params.stop.length > 0) fields.stop = params.stop;
  if (params.logitBias !== undefined) fields.logit_bias = params.logitBias;
  if (params.repeatPenalty) {
    const { penalty, lastTokens, frequencyPenalty, presencePenalty } = params.repeatPenalty;
    if (penalty !== undefined) fields.repeat_penalty = penalty;
    if (lastTokens !== undefined) fields.repeat_last_n = lastTokens;
    if (frequencyPenalty !== undefined) fields.frequency_penalty = frequencyPenalty;
    if (presencePenalty !== undefined) fields.presence_penalty = presencePenalty;
  }
  if (params.jsonSchema !== undefined) {
    fields.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: params.jsonSchema, strict: true } };
  }
  return fields;
}

function toolFields(request: GenerateRequest): UpstreamBody {
  if (request.tools === undefined || request.tools.length === 0) return {};
  const choice = request.toolChoice;
  return {
    tools: request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parameters: tool.parameters ?? { type: 'object', properties: {} },
      },
    })),
    ...(choice === undefined ? {} : { tool_choice: typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } } }),
    ...(request.parallelToolCalls === undefined ? {} : { parallel_tool_calls: request.parallelToolCalls }),
  };
}

async function upstreamMessage(message: ChatMessage, index: number, context: BodyContext): Promise<MessageParam> {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: textOnly(message.content, index, context) };
    case 'assistant':
      return {
        role: 'assistant',
        content: textOnly(message.content, index, context),
        ...(message.toolCalls && message.toolCalls.length > 0
          ? { tool_calls: message.toolCalls.map((call) => ({ id: call.id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } })) }
          : {}),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: textOnly(message.content, index, context) };
    default:
      if (typeof message.content === 'string') return { role: 'user', content: message.content };
      return { role: 'user', content: await Promise.all(message.content.map((part, j) => userPart(part, `messages[${index}].content[${j}]`, context))) };
  }
}

/** Images go only in user messages (as in OpenAI's API); elsewhere the parts' text is joined. */
function textOnly(content: string | ChatContentPart[], index: number, context: BodyContext): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type === 'text') return part.text;
      throw new ModalityNotSupportedError(context.name, 'image', `messages[${index}].content[${j}]`, 'images go in user messages only');
    })
    .join('');
}

async function userPart(part: ChatContentPart, where: string, context: BodyContext): Promise<UserPart> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  if (!context.vision) {
    throw new ModalityNotSupportedError(context.name, 'image', where, 'the remote model is not configured as a vision model (vision: true)');
  }
  return { type: 'image_url', image_url: { url: await imageUrl(part, where) } };
}

/** An image as the URL OpenAI's API takes: its own http(s) URL, else a base64 data URL. */
async function imageUrl(image: ChatImagePart, where: string): Promise<string> {
  if (image.url !== undefined) return image.url;
  if (image.data !== undefined) return `data:${image.mimeType ?? sniffedType(Buffer.from(image.data.slice(0, 24), 'base64'))};base64,${image.data}`;
  if (image.path !== undefined) {
    const bytes = await readFile(image.path);
    return `data:${image.mimeType ?? sniffedType(bytes)};base64,${bytes.toString('base64')}`;
  }
  throw new InvalidArgumentError(`${where} is an image with no data, path or url`);
}

/** The image type the first bytes name (PNG, JPEG, GIF, WebP); `image/png` when none does. */
function sniffedType(bytes: Uint8Array): string {
  const starts = (...signature: number[]) => signature.every((byte, i) => bytes[i] === byte);
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  if (starts(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) return 'image/webp';
  return 'image/png';
}
