import type { ChatMessage, GenerateRequest, GenerationParams } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { asObject, type Body } from './asObject.js';
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

/** Text of an Anthropic content: a string, or `{type: 'text', text}` blocks; any other block is refused by name. */
function contentText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new InvalidArgumentError(`${where} must be a string or an array of content blocks`);
  return content
    .map((block: unknown, index) => {
      const part = asBlock(block, `${where}[${index}]`);
      if (part.type === 'text' && typeof part.text === 'string') return part.text;
      if (part.type === 'text') throw new InvalidArgumentError(`${where}[${index}].text must be a string`);
      throw new UnsupportedParameterError(`${where}[${index}]`, `${JSON.stringify(part.type)} blocks are not supported; only text blocks are`);
    })
    .join('');
}

function asBlock(block: unknown, where: string): Body {
  if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new InvalidArgumentError(`${where} must be a content block object`);
  return asObject(block);
}

/** `system` (a string or text blocks) then the user/assistant turns, as chat messages. */
function anthropicMessages(body: Body): ChatMessage[] {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  const messages: ChatMessage[] = [];
  if (present(body.system)) messages.push({ role: 'system', content: contentText(body.system, 'system') });
  body.messages.forEach((message: unknown, index) => {
    const m = asBlock(message, `messages[${index}]`);
    if (m.role !== 'user' && m.role !== 'assistant') {
      throw new InvalidArgumentError(`messages[${index}].role must be user or assistant, got ${JSON.stringify(m.role)}`);
    }
    const where = `messages[${index}].content`;
    if (Array.isArray(m.content)) messages.push(...blockMessages(m.role, m.content, where));
    else messages.push({ role: m.role, content: contentText(m.content, where) });
  });
  if (messages.at(-1)?.role === 'assistant' && messages.at(-1)?.toolCalls === undefined) {
    // The chat template closes every assistant turn: continuing one is not something it can render.
    throw new UnsupportedParameterError('messages', 'a final assistant message (prefill) cannot be continued; end with a user message');
  }
  return messages;
}

function numberField(body: Body, field: string): number | undefined {
  const value = body[field];
  if (!present(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidArgumentError(`${field} must be a number`);
  return value;
}

/** Sampling fields → GenerationParams (the ModelActor checks the values' ranges). */
function anthropicParams(body: Body, counting: boolean): { params: GenerationParams; stopSequences: string[] } {
  const params: GenerationParams = {};
  const maxTokens = numberField(body, 'max_tokens');
  if (maxTokens === undefined && !counting) throw new InvalidArgumentError('max_tokens is required');
  if (maxTokens !== undefined) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new InvalidArgumentError('max_tokens must be a positive integer');
    params.maxTokens = maxTokens;
  }
  const temperature = numberField(body, 'temperature');
  if (temperature !== undefined) params.temperature = temperature;
  const topP = numberField(body, 'top_p');
  if (topP !== undefined) params.topP = topP;
  const topK = numberField(body, 'top_k');
  if (topK !== undefined) params.topK = topK;
  let stopSequences: string[] = [];
  if (present(body.stop_sequences)) {
    if (!Array.isArray(body.stop_sequences) || !body.stop_sequences.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new InvalidArgumentError('stop_sequences must be an array of non-empty strings');
    }
    stopSequences = body.stop_sequences;
    if (stopSequences.length > 0) params.stop = stopSequences;
  }
  if (present(body.metadata) && (typeof body.metadata !== 'object' || Array.isArray(body.metadata))) {
    throw new InvalidArgumentError('metadata must be an object');
  }
  return { params, stopSequences };
}

/**
 * @internal Reads a `POST /v1/messages` body (or, with `counting`, a `count_tokens` one, where
 * `max_tokens` is not required). Client tools, tool_use and tool_result blocks are read; server
 * tools, image and document blocks are refused with `UNSUPPORTED_PARAMETER` naming the field.
 */
export function anthropicRequest(raw: unknown, counting = false): AnthropicRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidArgumentError('the request body must be a JSON object');
  const body = asObject(raw);
  if (typeof body.model !== 'string' || body.model.length === 0) throw new InvalidArgumentError('model must be a non-empty string');
  for (const [field, reason] of UNSUPPORTED) if (present(body[field])) throw new UnsupportedParameterError(field, reason);
  if (present(body.stream) && typeof body.stream !== 'boolean') throw new InvalidArgumentError('stream must be a boolean');
  const { params, stopSequences } = anthropicParams(body, counting);
  const tools = anthropicTools(body);
  return { model: body.model, messages: anthropicMessages(body), params, tools, stopSequences, stream: body.stream === true };
}
