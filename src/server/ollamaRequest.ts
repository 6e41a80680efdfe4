import type { ChatContentPart, ChatMessage, GenerationParams, RepeatPenaltyParams } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { base64ImagePart } from './imageParts.js';
import { type Body, openAiBody } from './openaiCompletionRequest.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { OllamaToolPairing } from './ollamaTools.js';
import { partsContent } from './partsContent.js';
import { RequestValidationError } from './schemas/validation.js';

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** @internal The body of an Ollama request: a JSON object, or INVALID_ARGUMENT. */
export function ollamaBody(body: unknown): Body {
  return openAiBody(body);
}

/** @internal `stream` (a boolean or null: the route schema): Ollama's default is true. */
export function streamed(body: Body): boolean {
  return body.stream !== false;
}

/** Refuses, never ignores, what this server cannot do for an Ollama request: thinking, tools on /api/generate, images beside a raw prompt. */
export function refuseUnsupported(body: Body, kind: 'chat' | 'generate'): void {
  if (kind === 'generate' && (Array.isArray(body.tools) ? body.tools.length > 0 : present(body.tools))) {
    throw new UnsupportedParameterError('tools', 'only /api/chat calls tools');
  }
  if (kind === 'chat' && (Array.isArray(body.images) ? body.images.length > 0 : present(body.images))) {
    throw new UnsupportedParameterError('images', 'on /api/chat images go on the message that shows them: messages[i].images');
  }
  if (kind === 'generate' && body.raw === true && Array.isArray(body.images) && body.images.length > 0) {
    throw new UnsupportedParameterError('images', 'a raw prompt is text only (no chat template places the images); send them without raw');
  }
  if (body.think === true || typeof body.think === 'string') throw new UnsupportedParameterError('think', 'thinking output is not separated');
}

/** Ollama sampling repetition options → RepeatPenaltyParams, when any is set. */
function penalties(options: Body): RepeatPenaltyParams | undefined {
  const { repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty } = options;
  if (![repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty].some(present)) return undefined;
  const params: RepeatPenaltyParams = { penalty: present(repeat_penalty) ? (repeat_penalty as number) : 1 };
  if (present(repeat_last_n) && repeat_last_n !== -1) params.lastTokens = repeat_last_n as number;
  if (present(frequency_penalty)) params.frequencyPenalty = frequency_penalty as number;
  if (present(presence_penalty)) params.presencePenalty = presence_penalty as number;
  return params;
}

/** `format`: `'json'` (any JSON object) or a JSON schema (`''` or none: free text); the route schema allows nothing else. */
function formatSchema(format: unknown): object | undefined {
  if (!present(format) || format === '') return undefined;
  return format === 'json' ? { type: 'object' } : (format as object);
}

/**
 * @internal Ollama `options` + `format` → GenerationParams (the ModelActor validates the values).
 * Load-time options (`num_ctx`, `num_batch`, `num_gpu`, `main_gpu`, `num_thread`, `numa`, `use_mmap`, `use_mlock`, `low_vram`) are accepted and not applied (a model's context, threads and GPU layers are fixed when it is published); samplers the engine lacks
 * (`typical_p` ≠ 1, `mirostat` ≠ 0) are refused; other unknown keys are ignored, as Ollama does.
 */
export function ollamaParams(body: Body): GenerationParams {
  // An object whose known keys have their types (the route schema); the ModelActor checks the ranges.
  const options = (present(body.options) ? body.options : {}) as Body;
  if (present(options.typical_p) && options.typical_p !== 1) throw new UnsupportedParameterError('options.typical_p', 'the sampler chain has no typical sampler');
  if (present(options.mirostat) && options.mirostat !== 0) throw new UnsupportedParameterError('options.mirostat', 'the sampler chain has no mirostat sampler');
  const params: GenerationParams = {};
  // num_predict -1 (no limit) and -2 (fill the context) leave the server's default length.
  if (present(options.num_predict) && !(options.num_predict === -1 || options.num_predict === -2)) params.maxTokens = options.num_predict as number;
  if (present(options.temperature)) params.temperature = options.temperature as number;
  if (present(options.top_p)) params.topP = options.top_p as number;
  if (present(options.top_k)) params.topK = options.top_k as number;
  if (present(options.min_p)) params.minP = options.min_p as number;
  if (present(options.seed) && options.seed !== -1) params.seed = options.seed as number;
  if (present(options.stop)) params.stop = typeof options.stop === 'string' ? [options.stop] : (options.stop as string[]);
  const repeatPenalty = penalties(options);
  if (repeatPenalty) params.repeatPenalty = repeatPenalty;
  const schema = formatSchema(body.format);
  if (schema) params.jsonSchema = schema;
  return params;
}

/**
 * Ollama's `images` (base64 strings, `where` naming the array) and the text after them as one
 * content: the text as it is when there are no images, else the images then the text as parts.
 */
function withImages(images: unknown, text: string, where: string): string | ChatContentPart[] {
  // An array of strings or null (the route schema); each must be valid base64.
  if (!Array.isArray(images) || images.length === 0) return text;
  const parts: ChatContentPart[] = images.map((image: unknown, k) => base64ImagePart(image, undefined, `${where}[${k}]`));
  return partsContent(text === '' ? parts : [...parts, { type: 'text', text }]);
}

/** @internal Ollama chat messages → ChatMessage[] (text, images of user messages, tool calls and tool results). */
export function ollamaMessages(body: Body): ChatMessage[] {
  const pairing = new OllamaToolPairing();
  // Message objects with a role and typed fields (the route schema).
  return (body.messages as Array<Body & { role: 'system' | 'user' | 'assistant' | 'tool' }>).map((m, index): ChatMessage => {
    const where = `messages[${index}].images`;
    if (m.role !== 'user' && Array.isArray(m.images) && m.images.length > 0) throw new RequestValidationError(`${where}: images are taken on user messages only`, where);
    if (m.role === 'tool') return pairing.result(m, index);
    const toolCalls = m.role === 'assistant' ? pairing.calls(m, index) : undefined;
    const images = Array.isArray(m.images) && m.images.length > 0;
    const content = (toolCalls || images) && !present(m.content) ? '' : m.content;
    if (typeof content !== 'string') throw new InvalidArgumentError(`messages[${index}].content is required (a string) unless the message calls tools or shows images`);
    return { role: m.role, content: withImages(m.images, content, where), ...(toolCalls ? { toolCalls } : {}) };
  });
}

/**
 * @internal `/api/generate`'s prompt: raw text, or a user turn (after `system`) through the chat
 * template; `images` go into that user turn, before the prompt's text, as on `/api/chat` (a raw
 * prompt takes none: refuseUnsupported).
 */
export function generateInput(body: Body): { prompt: string } | { messages: ChatMessage[] } {
  if (present(body.suffix) && body.suffix !== '') throw new UnsupportedParameterError('suffix', 'fill-in-the-middle is not implemented');
  if (present(body.template) && body.template !== '') throw new UnsupportedParameterError('template', 'the model\'s own chat template is used');
  if (Array.isArray(body.context) && body.context.length > 0) throw new UnsupportedParameterError('context', 'token contexts are not returned or taken; send the text');
  const prompt = body.prompt as string; // required by generateSchema
  if (body.raw === true) return { prompt };
  const messages: ChatMessage[] = [];
  if (typeof body.system === 'string' && body.system !== '') messages.push({ role: 'system', content: body.system });
  messages.push({ role: 'user', content: withImages(body.images, prompt, 'images') });
  return { messages };
}
