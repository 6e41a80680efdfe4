import type { ChatMessage, GenerateRequest, ToolCall, ToolChoice, ToolDefinition } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { ToolCallDelta } from '../messaging/TokenStreamEvent.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';

type Body = Record<string, unknown>;

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/**
 * @internal OpenAI's `tools` (function tools), `tool_choice` and `parallel_tool_calls` → the
 * model's tool fields. The ModelActor checks names, schemas and the choice; this maps the shapes and
 * refuses what has no meaning here (other tool types, the legacy `functions` / `function_call`).
 */
export function openAiTools(body: Body): Pick<GenerateRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'> {
  if (present(body.functions) || present(body.function_call)) {
    throw new UnsupportedParameterError(present(body.functions) ? 'functions' : 'function_call', 'the legacy function fields are not supported; send tools and tool_choice');
  }
  // Shapes checked by the route schema (tools an array of tool objects, parallel_tool_calls a boolean).
  const result: Pick<GenerateRequest, 'tools' | 'toolChoice' | 'parallelToolCalls'> = {};
  if (present(body.tools)) result.tools = (body.tools as Body[]).map(toolDefinition);
  if (present(body.tool_choice)) result.toolChoice = toolChoice(body.tool_choice);
  if (present(body.parallel_tool_calls)) result.parallelToolCalls = body.parallel_tool_calls as boolean;
  if (result.toolChoice !== undefined && result.toolChoice !== 'none' && result.tools === undefined) {
    throw new InvalidArgumentError(`tool_choice ${JSON.stringify(body.tool_choice)} needs tools`);
  }
  return result;
}

function toolDefinition(tool: Body, index: number): ToolDefinition {
  const where = `tools[${index}]`;
  if (tool.type !== 'function') throw new UnsupportedParameterError(`${where}.type`, `${JSON.stringify(tool.type)} tools are not supported; only function tools are`);
  const fn = tool.function;
  if (!isObject(fn)) throw new InvalidArgumentError(`${where}.function must be { name, description?, parameters? }`);
  // `strict` asks for arguments that match the schema exactly: the grammar always gives that.
  return {
    name: fn.name as string,
    ...(present(fn.description) ? { description: fn.description as string } : {}),
    ...(present(fn.parameters) ? { parameters: fn.parameters as object } : {}),
  };
}

function toolChoice(choice: unknown): ToolChoice {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { name: choice.function.name };
  }
  if (isObject(choice) && choice.type === 'allowed_tools') throw new UnsupportedParameterError('tool_choice', 'allowed_tools is not supported; send only the allowed tools');
  throw new InvalidArgumentError(`tool_choice must be auto, none, required or { type: 'function', function: { name } }, got ${JSON.stringify(choice)}`);
}

/** @internal An assistant message's `tool_calls` → {@link ToolCall}s (`content` may then be null). */
export function assistantToolCalls(message: Body): ToolCall[] | undefined {
  if (!present(message.tool_calls)) return undefined;
  // `{id, type: 'function', function: {name, arguments}}` each (chatCompletionsSchema).
  const calls = message.tool_calls as Array<{ id: string; function: { name: string; arguments: string } }>;
  return calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
}

/** @internal A `role: 'tool'` message → a tool message of the model's history. */
export function toolMessage(message: Body, index: number, content: string): ChatMessage {
  if (typeof message.tool_call_id !== 'string') throw new InvalidArgumentError(`messages[${index}].tool_call_id must be a string (the id of the call it answers)`);
  return { role: 'tool', toolCallId: message.tool_call_id, content };
}

/** @internal Calls as OpenAI's `message.tool_calls`. */
export function openAiToolCalls(calls: readonly ToolCall[]) {
  return calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
}

/**
 * @internal A streamed call piece as OpenAI's `delta.tool_calls` entry: the first piece of a call
 * names its id, type and name; the rest carry only the next characters of the arguments.
 */
export function openAiToolCallDelta(delta: ToolCallDelta) {
  if (delta.id !== undefined) {
    return { index: delta.index, id: delta.id, type: 'function', function: { name: delta.name, arguments: delta.arguments } };
  }
  return { index: delta.index, function: { arguments: delta.arguments } };
}
