import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from 'node-llama-cpp';
import { InvalidArgumentError } from '../../../messaging/errors.js';
import { EmptyPromptError } from '../modelErrors.js';
import type { TextChatMessage } from '../messageText.js';
import type { ToolCall } from '../types.js';

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** A model turn being built, with the calls still waiting for their tool message. */
interface OpenTurn {
  item: ChatModelResponse;
  /** Calls of the turn's last assistant message by id, until their result arrives. */
  unanswered: Map<string, ChatModelFunctionCall>;
}

/**
 * @internal Chat messages as node-llama-cpp chat history. An assistant message's tool calls become
 * function-call items of its model turn, each with the result its `tool` message gives; an assistant
 * message after those results continues the same turn, as the model saw it when it generated the
 * calls. Every call must be answered (by id) before the next user or assistant message, as OpenAI
 * requires; `INVALID_ARGUMENT` otherwise, naming the message and the call.
 *
 * Returns the history and whether its last model turn is still open (the calls were answered and
 * the model's reply after them comes next).
 */
export function toolChatHistory(messages: TextChatMessage[] | undefined): { history: ChatHistoryItem[]; continuesTurn: boolean } {
  if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
  if (messages.length === 0) throw new EmptyPromptError();
  const history: ChatHistoryItem[] = [];
  let open: OpenTurn | undefined;
  let afterResults = false;
  for (const [index, message] of messages.entries()) {
    checkMessage(message, index);
    if (message.role === 'tool') {
      answer(open, message, index);
      afterResults = true;
      continue;
    }
    if (open && open.unanswered.size > 0) {
      const id = open.unanswered.keys().next().value;
      throw new InvalidArgumentError(`messages[${index}]: tool call ${JSON.stringify(id)} has no tool message answering it before this ${message.role} message`);
    }
    if (message.role === 'assistant') {
      // After the results the assistant's text continues the turn that made the calls.
      if (!(open && afterResults)) {
        open = { item: { type: 'model', response: [] }, unanswered: new Map() };
        history.push(open.item);
      }
      addAssistant(open, message, index);
      afterResults = false;
      continue;
    }
    open = undefined;
    afterResults = false;
    history.push(message.role === 'system' ? { type: 'system', text: message.content } : { type: 'user', text: message.content });
  }
  if (open && open.unanswered.size > 0) {
    const id = open.unanswered.keys().next().value;
    throw new InvalidArgumentError(`tool call ${JSON.stringify(id)} of the last assistant message has no tool message answering it`);
  }
  return { history, continuesTurn: open !== undefined && afterResults };
}

function checkMessage(message: TextChatMessage, index: number): void {
  if (typeof message !== 'object' || message === null || !ROLES.has(message.role) || typeof message.content !== 'string') {
    throw new InvalidArgumentError(
      `messages[${index}] must be { role: 'system' | 'user' | 'assistant' | 'tool', content: string }, got ${JSON.stringify(message)}`,
    );
  }
  if (message.toolCalls !== undefined && message.role !== 'assistant') {
    throw new InvalidArgumentError(`messages[${index}]: only an assistant message can have toolCalls, this one is ${message.role}`);
  }
  if (message.toolCallId !== undefined && message.role !== 'tool') {
    throw new InvalidArgumentError(`messages[${index}]: only a tool message can have a toolCallId, this one is ${message.role}`);
  }
}

function addAssistant(open: OpenTurn, message: TextChatMessage, index: number): void {
  if (message.content.length > 0) open.item.response.push(message.content);
  const calls = message.toolCalls ?? [];
  if (!Array.isArray(calls)) throw new InvalidArgumentError(`messages[${index}].toolCalls must be an array`);
  open.unanswered.clear();
  for (const [j, call] of calls.entries()) {
    const item = functionCall(call, index, j, j === 0);
    if (open.unanswered.has(call.id)) throw new InvalidArgumentError(`messages[${index}].toolCalls[${j}]: id ${JSON.stringify(call.id)} is used twice`);
    open.unanswered.set(call.id, item);
    open.item.response.push(item);
  }
}

function functionCall(call: ToolCall, index: number, j: number, startsNewChunk: boolean): ChatModelFunctionCall {
  const where = `messages[${index}].toolCalls[${j}]`;
  if (typeof call !== 'object' || call === null || typeof call.id !== 'string' || typeof call.name !== 'string' || typeof call.arguments !== 'string') {
    throw new InvalidArgumentError(`${where} must be { id: string, name: string, arguments: string }, got ${JSON.stringify(call)}`);
  }
  let params: unknown;
  try {
    params = JSON.parse(call.arguments);
  } catch {
    throw new InvalidArgumentError(`${where}.arguments must be JSON text, got ${JSON.stringify(call.arguments.slice(0, 80))}`);
  }
  return { type: 'functionCall', name: call.name, params, result: undefined, startsNewChunk };
}

function answer(open: OpenTurn | undefined, message: TextChatMessage, index: number): void {
  const id = message.toolCallId;
  if (typeof id !== 'string') throw new InvalidArgumentError(`messages[${index}]: a tool message needs toolCallId (a string)`);
  const call = open?.unanswered.get(id);
  if (!open || !call) {
    throw new InvalidArgumentError(`messages[${index}]: tool message for ${JSON.stringify(id)}, which no earlier assistant message called (or it was answered already)`);
  }
  open.unanswered.delete(id);
  call.result = toolResult(message.content);
}

/** A tool's output: its JSON value when it is JSON, else the text (the template prints it as is). */
function toolResult(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}
