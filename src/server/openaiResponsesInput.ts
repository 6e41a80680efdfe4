import type { ChatContentPart, ChatMessage } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { Body } from './asObject.js';
import { imageUrlPart } from './imageParts.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import type { OutputItem } from './openaiResponsesObject.js';
import type { ResponseStore } from './openaiResponsesStore.js';
import { partsContent } from './partsContent.js';
import { RequestValidationError } from './schemas/validation.js';

const present = (value: unknown) => value !== undefined && value !== null;

/**
 * @internal One item of a Responses `input`, read and checked: a message (its content a string, or
 * parts when a user message shows images), a function call the model made earlier, a function's
 * output, or a reference to a stored output item.
 */
export type InputItem =
  | { kind: 'message'; role: 'system' | 'user' | 'assistant'; content: string | ChatContentPart[] }
  | { kind: 'function_call'; callId: string; name: string; arguments: string }
  | { kind: 'function_call_output'; callId: string; output: string }
  | { kind: 'reference'; id: string };


function stringField(item: Body, field: string, where: string): string {
  const value = item[field];
  if (typeof value !== 'string') throw new InvalidArgumentError(`${where}.${field} must be a string, got ${JSON.stringify(value) ?? 'nothing'}`);
  return value;
}

/** One content part (`at` names it): `input_text` / `output_text`, or (`images`) an `input_image` by `image_url`; any other part is refused by name. */
function contentPart(part: Body, at: string, images: boolean): ChatContentPart {
  if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: stringField(part, 'text', at) };
  if (part.type === 'input_image' && images) {
    // image_url a string, file_id a string or null, detail auto, low or high (createResponseSchema); detail is not used.
    if (present(part.file_id)) throw new UnsupportedParameterError(`${at}.file_id`, 'the Files API is not implemented; send the image as image_url (a data: or http(s) URL)');
    if (!present(part.image_url)) throw new RequestValidationError(`${at}.image_url is required: a data:image/...;base64 URL or an http(s) URL`, `${at}.image_url`);
    return imageUrlPart(part.image_url, `${at}.image_url`);
  }
  if (part.type === 'input_image') throw new RequestValidationError(`${at} is an image: images are taken in user messages only`, at);
  throw new UnsupportedParameterError(at, `${JSON.stringify(part.type)} parts are not supported; only input_text, output_text and input_image (in a user message) are`);
}

/**
 * A content: a string, or parts (input_text, output_text and, with `images`, input_image); text
 * parts alone are joined into one string, as before images were read.
 */
function messageContent(content: unknown, where: string, images: boolean): string | ChatContentPart[] {
  if (typeof content === 'string') return content;
  // Absent: a message needs its content. Its parts are objects with a type (createResponseSchema).
  if (!Array.isArray(content)) throw new InvalidArgumentError(`${where} is required: a string or an array of content parts`);
  return partsContent(content.map((part: Body, index) => contentPart(part, `${where}[${index}]`, images)));
}

/** Text of a content: a string, or `input_text` / `output_text` parts; any other part is refused by name. */
function contentText(content: unknown, where: string): string {
  const read = messageContent(content, where, false);
  // Without images, parts are joined into a string.
  return typeof read === 'string' ? read : '';
}

const ROLES: Readonly<Record<string, 'system' | 'user' | 'assistant'>> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

/** One input item (`where` is `input[i]`). */
function inputItem(raw: Body, where: string): InputItem {
  const type = raw.type ?? 'message';
  if (type === 'message') {
    const role = typeof raw.role === 'string' && Object.hasOwn(ROLES, raw.role) ? ROLES[raw.role]! : undefined;
    // A present role is one of these (createResponseSchema); a message item must have one.
    if (!role) throw new InvalidArgumentError(`${where}.role is required: user, system, developer or assistant`);
    return { kind: 'message', role, content: messageContent(raw.content, `${where}.content`, role === 'user') };
  }
  if (type === 'function_call') {
    return { kind: 'function_call', callId: stringField(raw, 'call_id', where), name: stringField(raw, 'name', where), arguments: stringField(raw, 'arguments', where) };
  }
  if (type === 'function_call_output') {
    return { kind: 'function_call_output', callId: stringField(raw, 'call_id', where), output: contentText(raw.output, `${where}.output`) };
  }
  if (type === 'item_reference') return { kind: 'reference', id: stringField(raw, 'id', where) };
  throw new UnsupportedParameterError(where, `${JSON.stringify(type)} items are not supported; only message, function_call, function_call_output and item_reference are`);
}

/** @internal A request's `input`: a string (one user message) or an array of item objects (createResponseSchema). */
export function inputItems(input: unknown): InputItem[] {
  if (typeof input === 'string') return [{ kind: 'message', role: 'user', content: input }];
  return (input as Body[]).map((item, index) => inputItem(item, `input[${index}]`));
}

/** The input item an output item stands for when a later request names it. */
function fromOutput(item: OutputItem): InputItem {
  if (item.type === 'message') return { kind: 'message', role: 'assistant', content: item.content.map((part) => part.text).join('') };
  return { kind: 'function_call', callId: item.call_id, name: item.name, arguments: item.arguments };
}

/**
 * @internal The chat messages of a request's input items: references resolved from the stored
 * responses (`ENTITY_NOT_FOUND` for one that is not there), and each run of function calls folded
 * into the assistant message before it (or a new one), as the chat template renders them.
 */
export async function inputMessages(items: readonly InputItem[], store: ResponseStore, signal: AbortSignal): Promise<ChatMessage[]> {
  const resolved = await Promise.all(items.map(async (item) => (item.kind === 'reference' ? fromOutput(await store.item(item.id, { signal })) : item)));
  const messages: ChatMessage[] = [];
  for (const item of resolved) {
    if (item.kind === 'message') messages.push({ role: item.role, content: item.content });
    else if (item.kind === 'function_call_output') messages.push({ role: 'tool', content: item.output, toolCallId: item.callId });
    else if (item.kind === 'function_call') {
      const call = { id: item.callId, name: item.name, arguments: item.arguments };
      const last = messages.at(-1);
      if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
      else messages.push({ role: 'assistant', content: '', toolCalls: [call] });
    }
  }
  return messages;
}
