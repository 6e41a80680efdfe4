import { basename } from 'node:path';
import type { ChatHistoryItem, ChatModelFunctions, ChatWrapper, LlamaModel, Token } from 'node-llama-cpp';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { commonPrefix } from './commonPrefix.js';
import { EmptyPromptError } from './modelErrors.js';
import { toolChatHistory } from './tools/toolHistory.js';
import { type TextChatMessage, textMessages } from './messageText.js';
import type { ChatTokens, GenerateRequest, TokenizeChatRequest } from './types.js';

/** @internal The model's tokenizer and chat template: what turns a request into tokens. */
export interface PromptModel {
  model: LlamaModel;
  chatWrapper: ChatWrapper;
}

const ROLES = new Set(['system', 'user', 'assistant']);

/** The model as its errors name it: its file's name. */
function modelName(model: PromptModel): string {
  return basename(model.model.filename ?? 'model');
}

/**
 * @internal A generation's prompt as tokens: a raw `prompt` as is, chat `messages` rendered with
 * the model's chat template and ending in an open assistant turn (the one that made the last tool
 * calls, when their results end the messages). `functions` are the tools the template shows the
 * model. `INVALID_PARAMETER` unless exactly one of prompt and messages is given; `EMPTY_PROMPT`
 * for an empty one.
 */
export function promptTokens(model: PromptModel, request: GenerateRequest, functions?: ChatModelFunctions): Token[] {
  const hasPrompt = request.prompt !== undefined;
  const hasMessages = request.messages !== undefined;
  if (hasPrompt === hasMessages) {
    throw new InvalidArgumentError('generate needs exactly one of prompt (a string) and messages (an array)');
  }
  if (hasPrompt) {
    if (typeof request.prompt !== 'string') {
      throw new InvalidArgumentError(`prompt must be a string, got ${typeof request.prompt}`);
    }
    if (request.prompt.length === 0) throw new EmptyPromptError();
    return model.model.tokenize(request.prompt);
  }
  const messages = Array.isArray(request.messages) ? textMessages(request.messages, modelName(model)) : request.messages;
  const { history, continuesTurn } = toolChatHistory(messages);
  // An empty model turn at the end asks the template for the assistant's next reply; after tool
  // results the turn that made the calls is still open and the reply continues it.
  if (!continuesTurn) history.push({ type: 'model', response: [] });
  const { contextText } = model.chatWrapper.generateContextState({
    chatHistory: history,
    ...(functions && Object.keys(functions).length > 0 ? { availableFunctions: functions, documentFunctionParams: true } : {}),
  });
  return contextText.tokenize(model.model.tokenizer);
}

/**
 * @internal Formats a conversation with the model's chat template and marks its assistant turns.
 * The template is rendered once per assistant turn: up to the turn's opening (its start) and up
 * to its text (its end); the token after the text, the end-of-turn marker, belongs to the turn.
 */
export function tokenizeChat(model: PromptModel, request: TokenizeChatRequest): ChatTokens {
  const messages = Array.isArray(request?.messages) ? textMessages(request.messages, modelName(model)) : request?.messages;
  const history = chatHistory(messages);
  const render = (items: ChatHistoryItem[]): Token[] =>
    model.chatWrapper.generateContextState({ chatHistory: items }).contextText.tokenize(model.model.tokenizer);
  const opener: ChatHistoryItem = { type: 'model', response: [] };
  // Rendering with a next model turn closes every turn, the last assistant one included.
  const full = render([...history, opener]);
  const spans: Array<[number, number]> = [];
  for (const [index, message] of messages.entries()) {
    if (message.role !== 'assistant') continue;
    const start = commonPrefix(render([...history.slice(0, index), opener]), full);
    const textEnd = commonPrefix(render(history.slice(0, index + 1)), full);
    spans.push([start, Math.min(textEnd + 1, full.length)]);
  }
  const end = spans.at(-1)?.[1] ?? full.length;
  return { tokens: full.slice(0, end), assistantSpans: spans };
}

/** Chat messages as node-llama-cpp chat history, one item each (what training's turn spans need), each one checked. */
function chatHistory(messages: TextChatMessage[] | undefined): ChatHistoryItem[] {
  if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
  if (messages.length === 0) throw new EmptyPromptError();
  return messages.map((message, index): ChatHistoryItem => {
    if (typeof message !== 'object' || message === null || !ROLES.has(message.role) || typeof message.content !== 'string') {
      throw new InvalidArgumentError(
        `messages[${index}] must be { role: 'system' | 'user' | 'assistant', content: string }, got ${JSON.stringify(message)}`,
      );
    }
    if (message.toolCalls !== undefined || message.toolCallId !== undefined) {
      // Training data marks assistant turns message by message; tool turns span several messages.
      throw new InvalidArgumentError(`messages[${index}]: tool calls and tool messages cannot be tokenized for training yet`);
    }
    if (message.role === 'system') return { type: 'system', text: message.content };
    if (message.role === 'user') return { type: 'user', text: message.content };
    return { type: 'model', response: [message.content] };
  });
}
