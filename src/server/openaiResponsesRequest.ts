import type { GenerationParams, ToolChoice, ToolDefinition } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { Body } from './asObject.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { type InputItem, inputItems } from './openaiResponsesInput.js';
import type { ResponseEcho } from './openaiResponsesObject.js';

/** @internal A `POST /v1/responses` body, read and checked. */
export interface ResponsesRequest {
  model: string;
  input: InputItem[];
  /** A system message put before the conversation, for this response only (not carried over). */
  instructions: string | undefined;
  previousResponseId: string | undefined;
  params: GenerationParams;
  tools: ToolDefinition[];
  toolChoice: ToolChoice | undefined;
  parallelToolCalls: boolean | undefined;
  stream: boolean;
  /** Whether the response is kept for `GET` and `previous_response_id` (OpenAI's default: true). */
  store: boolean;
  /** `prompt_cache_key`: requests naming the same key prefer the slot holding its KV cache. */
  cacheKey: string | undefined;
  /** `safety_identifier`, else `user`: who is asking, for fair admission across users. */
  fairnessKey: string | undefined;
  echo: ResponseEcho;
}

const present = (value: unknown) => value !== undefined && value !== null;
const isObject = (value: unknown): value is Body => typeof value === 'object' && value !== null && !Array.isArray(value);
const json = (value: unknown) => JSON.stringify(value) ?? String(value);

/** Parameters of the Responses API this server cannot honour: refused by name when given, never ignored. */
const REFUSED: Readonly<Record<string, string>> = {
  conversation: 'the Conversations API is not implemented; continue a conversation with previous_response_id',
  context_management: 'context compaction is not implemented',
  moderation: 'moderation is not implemented',
  prompt: 'stored prompt templates are not implemented; send input and instructions',
  prompt_cache_options: 'the KV cache is kept per slot, in memory; there are no cache options',
  max_tool_calls: 'it limits built-in tool calls, and there are no built-in tools; use parallel_tool_calls: false for one call',
};

/** Every body field this route reads. Any other is refused (`UNSUPPORTED_PARAMETER`), as OpenAI refuses unknown parameters. */
const KNOWN = new Set([
  ...Object.keys(REFUSED),
  ...['model', 'input', 'instructions', 'max_output_tokens', 'metadata', 'parallel_tool_calls', 'previous_response_id', 'store', 'stream'],
  ...['stream_options', 'temperature', 'text', 'tool_choice', 'tools', 'top_p', 'user', 'safety_identifier', 'prompt_cache_key'],
  ...['prompt_cache_retention', 'service_tier', 'truncation', 'top_logprobs', 'background', 'include', 'reasoning'],
]);

/** Values of fields that only have one meaning here; anything else is refused naming the value. */
function refuseOtherValues(body: Body): void {
  const refuse = (field: string, reason: string) => {
    throw new UnsupportedParameterError(field, `${json(body[field])}: ${reason}`);
  };
  for (const field of Object.keys(body)) {
    if (!KNOWN.has(field)) throw new UnsupportedParameterError(field, 'not a Responses API parameter this server knows');
    if (Object.hasOwn(REFUSED, field) && present(body[field])) throw new UnsupportedParameterError(field, REFUSED[field]!);
  }
  if (present(body.background) && body.background !== false) refuse('background', 'background responses are not implemented');
  if (present(body.truncation) && body.truncation !== 'disabled') refuse('truncation', 'only disabled (a conversation that outgrows the context is refused)');
  if (present(body.service_tier) && body.service_tier !== 'auto' && body.service_tier !== 'default') refuse('service_tier', 'only auto or default');
  if (present(body.prompt_cache_retention) && body.prompt_cache_retention !== 'in_memory') refuse('prompt_cache_retention', 'only in_memory (the KV cache lives in the slots)');
  if (present(body.top_logprobs) && body.top_logprobs !== 0) refuse('top_logprobs', 'the Responses route gives no logprobs');
  if (present(body.include) && !(Array.isArray(body.include) && body.include.length === 0)) refuse('include', 'there is nothing extra to include (no logprobs, reasoning or tool sources)');
  if (present(body.reasoning) && !(isObject(body.reasoning) && Object.values(body.reasoning).every((value) => !present(value)))) {
    refuse('reasoning', 'reasoning effort and summaries are not implemented');
  }
  const options = body.stream_options;
  if (present(options) && !(isObject(options) && Object.entries(options).every(([key, value]) => key === 'include_obfuscation' && value !== true))) {
    refuse('stream_options', 'only include_obfuscation: false (deltas are not padded)');
  }
}

/** An optional field, its type checked by createResponseSchema; null reads as absent. */
function optional<T extends string | boolean | number>(body: Body, field: string): T | undefined {
  const value = body[field];
  return present(value) ? (value as T) : undefined;
}

/** `text: {format, verbosity}` → the model's `jsonSchema`, and the `text` the response echoes. */
function textFormat(body: Body): { jsonSchema?: object; echo: ResponseEcho['text'] } {
  if (!isObject(body.text)) return { echo: { format: { type: 'text' }, verbosity: 'medium' } };
  const { format, verbosity } = body.text;
  for (const key of Object.keys(body.text)) if (key !== 'format' && key !== 'verbosity') throw new UnsupportedParameterError(`text.${key}`, 'not a text option this server knows');
  if (present(verbosity) && verbosity !== 'medium') throw new UnsupportedParameterError('text.verbosity', `${json(verbosity)}: only medium (the model is not steered by it)`);
  // The format's type, name pattern and schema type are createResponseSchema's; json_schema needs both.
  if (!isObject(format) || format.type === 'text') return { echo: { format: { type: 'text' }, verbosity: 'medium' } };
  if (format.type === 'json_object') return { jsonSchema: { type: 'object' }, echo: { format: { type: 'json_object' }, verbosity: 'medium' } };
  if (!isObject(format.schema)) throw new InvalidArgumentError('text.format.schema is required with json_schema: a JSON schema object');
  if (typeof format.name !== 'string') throw new InvalidArgumentError('text.format.name is required with json_schema: 1-64 characters of a-z, A-Z, 0-9, _ and -');
  const echo = {
    type: 'json_schema',
    name: format.name,
    schema: format.schema,
    description: typeof format.description === 'string' ? format.description : null,
    // The grammar makes the output match the schema whatever `strict` says.
    strict: format.strict === false ? false : true,
  };
  return { jsonSchema: format.schema, echo: { format: echo, verbosity: 'medium' } };
}

/** `tools`: function tools only; any other kind (web_search, file_search, mcp, ...) is refused by name. */
function functionTools(body: Body): { tools: ToolDefinition[]; echo: unknown[] } {
  if (!present(body.tools)) return { tools: [], echo: [] };
  const tools: ToolDefinition[] = [];
  // Tool objects, their fields' types checked by createResponseSchema; a function tool needs its name.
  const echo = (body.tools as Body[]).map((tool, index) => {
    const where = `tools[${index}]`;
    if (tool.type !== 'function') throw new UnsupportedParameterError(where, `${json(tool.type)} tools are not supported; only function tools are`);
    if (typeof tool.name !== 'string') throw new InvalidArgumentError(`${where}.name is required: a function tool is named`);
    tools.push({
      name: tool.name,
      ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
      ...(isObject(tool.parameters) ? { parameters: tool.parameters } : {}),
    });
    // Calls are grammar-constrained to the parameters whatever `strict` says.
    return { type: 'function', name: tool.name, description: tool.description ?? null, parameters: tool.parameters ?? null, strict: tool.strict !== false };
  });
  return { tools, echo };
}

/** `tool_choice`: `auto`, `none`, `required` or `{type: 'function', name}` naming one of the tools. */
function toolChoice(body: Body, tools: readonly ToolDefinition[]): ToolChoice | undefined {
  // auto, none, required or an object {type, name?} (createResponseSchema).
  const choice = body.tool_choice as 'auto' | 'none' | 'required' | Body | null | undefined;
  if (!present(choice)) return undefined;
  if (typeof choice === 'string') {
    if (choice === 'required' && tools.length === 0) throw new InvalidArgumentError('tool_choice "required" needs tools');
    return choice;
  }
  if (choice.type !== 'function') throw new UnsupportedParameterError('tool_choice', `${json(choice.type)}: only function tools can be chosen`);
  if (typeof choice.name !== 'string' || !tools.some((tool) => tool.name === choice.name)) {
    throw new InvalidArgumentError(`tool_choice names ${json(choice.name)}, which is not one of the tools`);
  }
  return { name: choice.name };
}

/** `metadata`: at most 16 string values, keys up to 64 characters, values up to 512 (OpenAI's limits, createResponseSchema's). */
function metadata(body: Body): Record<string, string> {
  return isObject(body.metadata) ? (body.metadata as Record<string, string>) : {};
}

/** Sampling fields → GenerationParams (the ModelActor checks the values' ranges and the schema). */
function generationParams(body: Body, jsonSchema: object | undefined): GenerationParams {
  const params: GenerationParams = {};
  const maxTokens = optional<number>(body, 'max_output_tokens');
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const temperature = optional<number>(body, 'temperature');
  if (temperature !== undefined) params.temperature = temperature;
  const topP = optional<number>(body, 'top_p');
  if (topP !== undefined) params.topP = topP;
  if (jsonSchema) params.jsonSchema = jsonSchema;
  return params;
}

/**
 * @internal Reads a `POST /v1/responses` body (`input_image` parts of user messages are read: a
 * model that cannot see refuses them). What the route cannot honour (file inputs, built-in tools,
 * `reasoning`, `truncation: 'auto'`, an unknown parameter, ...) is refused with
 * `UNSUPPORTED_PARAMETER` naming it; malformed values with `INVALID_ARGUMENT` naming the value.
 */
export function responsesRequest(raw: unknown): ResponsesRequest {
  // Its shape is createResponseSchema's (model, input and every field's type); refusals and what depends on several fields are here.
  const body = raw as Body & { model: string };
  refuseOtherValues(body);
  const input = inputItems(body.input);
  const text = textFormat(body);
  const { tools, echo: toolsEcho } = functionTools(body);
  const choice = toolChoice(body, tools);
  const instructions = optional<string>(body, 'instructions');
  const parallelToolCalls = optional<boolean>(body, 'parallel_tool_calls');
  const user = optional<string>(body, 'user');
  const safetyIdentifier = optional<string>(body, 'safety_identifier');
  const previousResponseId = optional<string>(body, 'previous_response_id');
  const params = generationParams(body, text.jsonSchema);
  const store = optional<boolean>(body, 'store') ?? true;
  const cacheKey = optional<string>(body, 'prompt_cache_key');
  return {
    model: body.model,
    input,
    instructions,
    previousResponseId,
    params,
    tools,
    toolChoice: choice,
    parallelToolCalls,
    stream: optional<boolean>(body, 'stream') ?? false,
    store,
    cacheKey,
    fairnessKey: safetyIdentifier ?? user,
    echo: {
      model: body.model,
      instructions: instructions ?? null,
      max_output_tokens: params.maxTokens ?? null,
      metadata: metadata(body),
      parallel_tool_calls: parallelToolCalls ?? true,
      previous_response_id: previousResponseId ?? null,
      prompt_cache_key: cacheKey ?? null,
      safety_identifier: safetyIdentifier ?? null,
      store,
      temperature: params.temperature ?? null,
      text: text.echo,
      tool_choice: choice === undefined ? 'auto' : typeof choice === 'string' ? choice : { type: 'function', name: choice.name },
      tools: toolsEcho,
      top_p: params.topP ?? null,
      user: user ?? null,
    },
  };
}
