import { InvalidArgumentError } from '../../messaging/errors.js';
import { ModalityNotSupportedError } from './modelErrors.js';
import type { ChatContentPart, ChatMessage } from './types.js';

/** A chat message whose content is text: what a model without vision formats. */
export type TextChatMessage = Omit<ChatMessage, 'content'> & { content: string };

/**
 * A message's content as text: a string as it is, text parts joined. An image part is refused with
 * {@link ModalityNotSupportedError} naming `model` and where it was (`messages[2].content[1]`), and
 * a part of another shape with `INVALID_ARGUMENT`: nothing is dropped silently.
 */
export function messageText(content: string | ChatContentPart[], model: string, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw new InvalidArgumentError(`${where} must be a string or an array of content parts, got ${JSON.stringify(content)}`);
  let text = '';
  for (const [index, part] of content.entries()) {
    const at = `${where}[${index}]`;
    if (typeof part === 'object' && part !== null && part.type === 'text' && typeof part.text === 'string') text += part.text;
    else if (typeof part === 'object' && part !== null && part.type === 'image') throw new ModalityNotSupportedError(model, 'image', at);
    else throw new InvalidArgumentError(`${at} must be { type: 'text', text } or { type: 'image', ... }, got ${JSON.stringify(part)}`);
  }
  return text;
}

/** Messages with text content only (see {@link messageText}); the array is returned as it is when every content is a string already. */
export function textMessages(messages: ChatMessage[], model: string): TextChatMessage[] {
  if (!Array.isArray(messages) || messages.every((m) => typeof m?.content === 'string')) return messages as TextChatMessage[];
  return messages.map((message, index) =>
    typeof message?.content === 'string' || typeof message !== 'object' || message === null
      ? (message as TextChatMessage)
      : { ...message, content: messageText(message.content, model, `messages[${index}].content`) },
  );
}
