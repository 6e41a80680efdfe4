import { InvalidArgumentError } from '../../messaging/errors.js';
import type { ChatMessage } from '../ModelActor/types.js';
import type { InferenceRequest, Turn } from './types.js';

/**
 * @internal The turns a request adds before the reply: its user message, or one tool turn per
 * result, each answering a call of the session's last reply (every call answered, none twice).
 * `INVALID_ARGUMENT` naming what is wrong.
 */
export function inputTurns(request: InferenceRequest, turns: readonly Turn[], promptId: string, at: number): Turn[] {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError(`inference needs { message } or { toolResults }, got ${JSON.stringify(request)}`);
  const { message, toolResults } = request;
  if ((message === undefined) === (toolResults === undefined)) {
    throw new InvalidArgumentError('inference needs exactly one of message (a non-empty string) and toolResults (an array)');
  }
  if (message !== undefined) {
    if (typeof message !== 'string' || message.length === 0) throw new InvalidArgumentError(`inference needs { message: non-empty string }, got ${JSON.stringify(request)}`);
    return [{ role: 'user', content: message, promptId, at }];
  }
  if (!Array.isArray(toolResults) || toolResults.length === 0) throw new InvalidArgumentError('toolResults must be a non-empty array of { toolCallId, content }');
  const calls = new Set((turns.at(-1)?.role === 'assistant' ? (turns.at(-1)?.toolCalls ?? []) : []).map((call) => call.id));
  if (calls.size === 0) throw new InvalidArgumentError('toolResults, but the session\'s last reply made no tool calls');
  const added = toolResults.map((result, index): Turn => {
    if (typeof result !== 'object' || result === null || typeof result.toolCallId !== 'string' || typeof result.content !== 'string') {
      throw new InvalidArgumentError(`toolResults[${index}] must be { toolCallId: string, content: string }, got ${JSON.stringify(result)}`);
    }
    if (!calls.delete(result.toolCallId)) {
      throw new InvalidArgumentError(`toolResults[${index}]: ${JSON.stringify(result.toolCallId)} is not a call of the last reply, or is answered twice`);
    }
    return { role: 'tool', toolCallId: result.toolCallId, content: result.content, promptId, at };
  });
  if (calls.size > 0) throw new InvalidArgumentError(`toolResults leave call ${JSON.stringify([...calls][0])} of the last reply unanswered`);
  return added;
}

/** @internal Stored turns as the model's chat messages, with their tool calls and call ids. */
export function turnMessages(turns: readonly Turn[]): ChatMessage[] {
  return turns.map(({ role, content, toolCalls, toolCallId }) => ({
    role,
    content,
    ...(toolCalls ? { toolCalls } : {}),
    ...(toolCallId ? { toolCallId } : {}),
  }));
}

/**
 * @internal Where the context starts after dropping the oldest exchange: at the next user turn, so
 * that a reply's calls and their results are never split (a result without its call is refused).
 */
export function shiftedStart(turns: readonly Turn[], start: number): number {
  for (let index = start + 1; index < turns.length; index++) if (turns[index]?.role === 'user') return index;
  return turns.length;
}
