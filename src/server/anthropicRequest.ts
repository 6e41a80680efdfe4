import type { ChatMessage, GenerateRequest, GenerationParams } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { Body } from './asObject.js';
import { anthropicTools, blockMessages } from './anthropicTools.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';

/** @internal An Anthropic Messages request, read and checked: what the generation and the token count need. */
export interface AnthropicRequest {
  model: string;
  messages: ChatMessage[];
  params: GenerationParams;
  tools: Pick<GenerateRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'>;
  stopSequences: string[];
  stream: boolean;
}

/** Fields of the Messages API this server cannot honour yet: refused by name, never ignored. */
const UNSUPPORTED: ReadonlyArray<readonly [field: string, reason: string]> = [
  ['thinking', 'extended thinking is not implemented'],
  ['mcp_servers', 'MCP servers are not implemented'],
  ['container', 'containers are not implemented'],
];

const present = (value: unknown) => value !== undefined && value !== null;

/** Text of an Anthropic content: a string, or `{type: 'text', text}` blocks (objects with a type: the route schema); any other block is refused by name. */
function contentText(content: string | Body[], where: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, index) => {
      if (part.type === 'text' && typeof part.text === 'string') return part.text;
      if (part.type === 'text') throw new InvalidArgumentError(`${where}[${index}].text is required in a text block`);
      throw new UnsupportedParameterError(`${where}[${index}]`, `${JSON.stringify(part.type)} blocks are not supported; only text blocks are`);
    })
    .join('');
}

/** `system` (a string or text blocks) then the user/assistant turns, as chat messages (their shapes: the route schema). */
function anthropicMessages(body: Body): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (present(body.system)) messages.push({ role: 'system', content: contentText(body.system as string | Body[], 'system') });
  (body.messages as Array<{ role: 'user' | 'assistant'; content: string | Body[] }>).forEach((m, index) => {
    const where = `messages[${index}].content`;
    if (Array.isArray(m.content)) messages.push(...blockMessages(m.role, m.content, where));
    else messages.push({ role: m.role, content: m.content });
  });
  if (messages.at(-1)?.role === 'assistant' && messages.at(-1)?.toolCalls === undefined) {
    // The chat template closes every assistant turn: continuing one is not something it can render.
    throw new UnsupportedParameterError('messages', 'a final assistant message (prefill) cannot be continued; end with a user message');
  }
  return messages;
}

/** A number field, its type and range checked by the route schema; null reads as absent. */
function numberField(body: Body, field: string): number | undefined {
  const value = body[field];
  return present(value) ? (value as number) : undefined;
}

/** Sampling fields → GenerationParams (max_tokens required but by count_tokens: the route schemas). */
function anthropicParams(body: Body): { params: GenerationParams; stopSequences: string[] } {
  const params: GenerationParams = {};
  const maxTokens = numberField(body, 'max_tokens');
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const temperature = numberField(body, 'temperature');
  if (temperature !== undefined) params.temperature = temperature;
  const topP = numberField(body, 'top_p');
  if (topP !== undefined) params.topP = topP;
  const topK = numberField(body, 'top_k');
  if (topK !== undefined) params.topK = topK;
  const stopSequences = present(body.stop_sequences) ? (body.stop_sequences as string[]) : [];
  if (stopSequences.length > 0) params.stop = stopSequences;
  return { params, stopSequences };
}

/**
 * @internal Reads a `POST /v1/messages` or `count_tokens` body, whose shape the route's schema
 * checked (messagesSchema, countTokensSchema). Client tools, tool_use and tool_result blocks and
 * image blocks of user messages are read (a model that cannot see refuses an image with
 * `MODALITY_NOT_SUPPORTED`); server tools and document blocks are refused with
 * `UNSUPPORTED_PARAMETER` naming the field.
 */
export function anthropicRequest(raw: unknown): AnthropicRequest {
  const body = raw as Body & { model: string };
  for (const [field, reason] of UNSUPPORTED) if (present(body[field])) throw new UnsupportedParameterError(field, reason);
  const { params, stopSequences } = anthropicParams(body);
  const tools = anthropicTools(body);
  return { model: body.model, messages: anthropicMessages(body), params, tools, stopSequences, stream: body.stream === true };
}
