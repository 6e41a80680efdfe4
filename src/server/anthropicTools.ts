import type { ChatContentPart, ChatMessage, GenerateRequest, ToolCall, ToolDefinition } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { anthropicImagePart } from './anthropicImage.js';
import type { Body } from './asObject.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { partsContent } from './partsContent.js';

const present = (value: unknown) => value !== undefined && value !== null;

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * @internal Anthropic's `tools` (client tools: `{name, description, input_schema}`) and
 * `tool_choice` (`auto`, `any`, `tool` + name, `none`; `disable_parallel_tool_use`) → the model's
 * tool fields. Server tools (web search, code execution, ...) are refused by name.
 */
export function anthropicTools(body: Body): Pick<GenerateRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'> {
  // Shapes checked by the route schema: tools an array of tool objects, tool_choice {type: auto | any | tool | none, name?, disable_parallel_tool_use?}.
  const result: Pick<GenerateRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'> = {};
  if (present(body.tools)) result.tools = (body.tools as Body[]).map(toolDefinition);
  if (isObject(body.tool_choice)) {
    const choice = body.tool_choice;
    if (choice.type === 'auto') result.toolChoice = 'auto';
    else if (choice.type === 'any') result.toolChoice = 'required';
    else if (choice.type === 'none') result.toolChoice = 'none';
    else if (choice.type === 'tool' && typeof choice.name === 'string') result.toolChoice = { name: choice.name };
    else throw new InvalidArgumentError(`tool_choice.name is required with type tool, got ${JSON.stringify(choice)}`);
    if (present(choice.disable_parallel_tool_use)) result.parallelToolCalls = !choice.disable_parallel_tool_use;
    if (result.toolChoice !== 'none' && result.toolChoice !== 'auto' && !result.tools) throw new InvalidArgumentError(`tool_choice ${choice.type} needs tools`);
  }
  return result;
}

function toolDefinition(tool: Body, index: number): ToolDefinition {
  const where = `tools[${index}]`;
  if (present(tool.type) && tool.type !== 'custom') {
    throw new UnsupportedParameterError(`${where}.type`, `${JSON.stringify(tool.type)} is a server tool; only client tools ({ name, input_schema }) are supported`);
  }
  if (!isObject(tool.input_schema)) throw new InvalidArgumentError(`${where}.input_schema is required: a client tool's JSON schema`);
  return {
    name: tool.name as string,
    ...(present(tool.description) ? { description: tool.description as string } : {}),
    parameters: tool.input_schema,
  };
}

/**
 * @internal One Anthropic message's content blocks → chat messages: an assistant's `text` and
 * `tool_use` blocks become one assistant message with its calls; a user's `tool_result` blocks
 * become tool messages (first, as the calls they answer came before), its text and `image` blocks
 * one user message (its content a string when it has no image, else its parts in order).
 */
export function blockMessages(role: 'user' | 'assistant', content: unknown[], where: string): ChatMessage[] {
  const parts: ChatContentPart[] = [];
  const calls: ToolCall[] = [];
  const results: ChatMessage[] = [];
  // Block objects, the types of their fields checked by the route schema; what each type needs is checked here.
  (content as Body[]).forEach((block, index) => {
    const at = `${where}[${index}]`;
    if (block.type === 'text') {
      if (typeof block.text !== 'string') throw new InvalidArgumentError(`${at}.text is required in a text block`);
      parts.push({ type: 'text', text: block.text });
    } else if (block.type === 'image' && role === 'user') {
      parts.push(anthropicImagePart(block, at));
    } else if (block.type === 'tool_use' && role === 'assistant') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) {
        throw new InvalidArgumentError(`${at} must be { type: 'tool_use', id, name, input: object }, got ${JSON.stringify(block)}`);
      }
      calls.push({ id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    } else if (block.type === 'tool_result' && role === 'user') {
      if (typeof block.tool_use_id !== 'string') throw new InvalidArgumentError(`${at}.tool_use_id is required in a tool_result block`);
      const text = resultText(block.content, `${at}.content`);
      results.push({ role: 'tool', toolCallId: block.tool_use_id, content: block.is_error === true ? `error: ${text}` : text });
    } else {
      throw new UnsupportedParameterError(at, `${JSON.stringify(block.type)} blocks are not supported in a ${role} message`);
    }
  });
  const message = partsContent(parts);
  if (role === 'assistant') return [{ role, content: message, ...(calls.length > 0 ? { toolCalls: calls } : {}) }];
  return [...results, ...(message.length > 0 || results.length === 0 ? [{ role, content: message }] : [])];
}

function resultText(content: unknown, where: string): string {
  if (!present(content)) return '';
  if (typeof content === 'string') return content;
  // Text blocks (objects with a type: the route schema); any other block is refused by name.
  return (content as Body[])
    .map((block, index) => {
      if (isObject(block) && block.type === 'text' && typeof block.text === 'string') return block.text;
      throw new UnsupportedParameterError(`${where}[${index}]`, 'only text blocks are supported in a tool result');
    })
    .join('');
}

/** @internal A call as Anthropic's `tool_use` content block (its input the parsed arguments). */
export function toolUseBlock(call: ToolCall) {
  return { type: 'tool_use' as const, id: call.id, name: call.name, input: JSON.parse(call.arguments) as unknown };
}
