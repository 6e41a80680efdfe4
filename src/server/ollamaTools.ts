import type { ChatMessage, ToolCall } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { Body } from './openaiCompletionRequest.js';

/**
 * @internal Ollama's tool messages → chat messages. Ollama's calls carry no id (newer versions may
 * send one): each call gets one, and a `tool` message answers the given `tool_call_id`, else the
 * first unanswered call of its `tool_name`, else the first unanswered call, as Ollama pairs them.
 */
export class OllamaToolPairing {
  private unanswered: ToolCall[] = [];

  /** An assistant message's `tool_calls` (`{function: {name, arguments: object}}`) as ToolCalls. */
  calls(message: Body, index: number): ToolCall[] | undefined {
    if (!Array.isArray(message.tool_calls) || message.tool_calls.length === 0) return undefined;
    // `{id?, function: {name, arguments: object | string}}` each (the route schema).
    const calls = message.tool_calls as Array<{ id?: string | null; function: { name: string; arguments: object | string } }>;
    this.unanswered = calls.map((call, j) => {
      const id = typeof call.id === 'string' ? call.id : `call_${index}_${j}`;
      const args = call.function.arguments;
      return { id, name: call.function.name, arguments: typeof args === 'string' ? args : JSON.stringify(args) };
    });
    return [...this.unanswered];
  }

  /** A `tool` message, paired with the call it answers. */
  result(message: Body, index: number): ChatMessage {
    if (typeof message.content !== 'string') throw new InvalidArgumentError(`messages[${index}].content must be a string`);
    const byId = typeof message.tool_call_id === 'string' ? this.unanswered.findIndex((call) => call.id === message.tool_call_id) : -1;
    const byName = typeof message.tool_name === 'string' ? this.unanswered.findIndex((call) => call.name === message.tool_name) : -1;
    const at = byId >= 0 ? byId : byName >= 0 ? byName : this.unanswered.length > 0 ? 0 : -1;
    if (at < 0) throw new InvalidArgumentError(`messages[${index}]: a tool message, but no earlier assistant message has a call left to answer`);
    const [call] = this.unanswered.splice(at, 1);
    return { role: 'tool', toolCallId: call!.id, content: message.content };
  }
}

/** @internal Calls as Ollama's `message.tool_calls`: the arguments as an object. */
export function ollamaToolCalls(calls: readonly ToolCall[]) {
  return calls.map((call) => ({ function: { name: call.name, arguments: JSON.parse(call.arguments) as unknown } }));
}
