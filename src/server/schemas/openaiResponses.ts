import Type from 'typebox';
import type { RouteSchema } from './validation.js';
import { IdParams, JsonSchemaObject, NonEmpty, Opt, PositiveInteger } from './common.js';

/**
 * @internal The OpenAI Responses API's request schemas. They give the API's own shapes; what this
 * server cannot honour (file parts, images by `file_id`, built-in tools, `reasoning`, `truncation: 'auto'`,
 * `background`, any parameter the route does not know, ...) passes the schema and is refused by
 * name by the route (`UNSUPPORTED_PARAMETER`).
 */

/**
 * A content part: `input_text` / `output_text` are read (they need `text`), `input_image` in a user
 * message (it needs `image_url`, a data: or http(s) URL, checked by the route; `detail` is not
 * used); any other type is refused by name.
 */
const ContentPart = Type.Object({
  type: Type.String(),
  text: Type.Optional(Type.String()),
  image_url: Opt(Type.String()),
  file_id: Opt(Type.String()),
  detail: Opt(Type.Enum(['auto', 'low', 'high'])),
});

const Content = Type.Union([Type.String(), Type.Array(ContentPart)]);

/** An input item: a message (`type` absent or `message`), `function_call`, `function_call_output` or `item_reference`. */
const InputItem = Type.Object({
  type: Type.Optional(Type.String()),
  role: Type.Optional(Type.Enum(['user', 'system', 'developer', 'assistant'])),
  content: Type.Optional(Content),
  id: Type.Optional(Type.String()),
  call_id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  arguments: Type.Optional(Type.String()),
  output: Type.Optional(Content),
});

/** A tool: only `function` tools are served (others are refused by name), so `name` is checked by the route. */
const Tool = Type.Object({
  type: Type.String(),
  name: Type.Optional(Type.String()),
  description: Opt(Type.String()),
  parameters: Opt(JsonSchemaObject()),
  strict: Opt(Type.Boolean()),
});

const TextFormat = Type.Object({
  type: Type.Enum(['text', 'json_object', 'json_schema']),
  name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', title: '1-64 characters of a-z, A-Z, 0-9, _ and -' })),
  schema: Type.Optional(JsonSchemaObject()),
  description: Opt(Type.String()),
  strict: Opt(Type.Boolean()),
});

/** At most 16 keys of up to 64 characters, string values up to 512 (OpenAI's limits). */
const Metadata = Type.Record(Type.String(), Type.String({ maxLength: 512 }), {
  maxProperties: 16,
  propertyNames: { type: 'string', maxLength: 64 },
});

export const createResponseSchema: RouteSchema = {
  summary: 'Create a response (OpenAI Responses API): whole or streamed (named SSE events)',
  body: Type.Object({
    model: NonEmpty(),
    input: Type.Union([Type.String(), Type.Array(InputItem)]),
    instructions: Opt(Type.String()),
    previous_response_id: Opt(Type.String()),
    max_output_tokens: Opt(PositiveInteger()),
    temperature: Opt(Type.Number({ minimum: 0, maximum: 2 })),
    top_p: Opt(Type.Number({ minimum: 0, maximum: 1 })),
    text: Opt(Type.Object({ format: Opt(TextFormat), verbosity: Opt(Type.Enum(['low', 'medium', 'high'])) })),
    tools: Opt(Type.Array(Tool)),
    tool_choice: Opt(Type.Union([Type.Enum(['auto', 'none', 'required']), Type.Object({ type: Type.String(), name: Type.Optional(Type.String()) })])),
    parallel_tool_calls: Opt(Type.Boolean()),
    metadata: Opt(Metadata),
    stream: Opt(Type.Boolean()),
    stream_options: Opt(Type.Object({ include_obfuscation: Opt(Type.Boolean()) })),
    store: Opt(Type.Boolean()),
    user: Opt(Type.String()),
    safety_identifier: Opt(Type.String()),
    prompt_cache_key: Opt(Type.String()),
    prompt_cache_retention: Opt(Type.String()),
    service_tier: Opt(Type.String()),
    truncation: Opt(Type.Enum(['auto', 'disabled'])),
    top_logprobs: Opt(Type.Integer({ minimum: 0, maximum: 20 })),
    background: Opt(Type.Boolean()),
    include: Opt(Type.Array(Type.String())),
    reasoning: Opt(Type.Object({})),
  }),
};

export const getResponseSchema: RouteSchema = { summary: 'A stored response (OpenAI Responses API)', params: IdParams };

export const deleteResponseSchema: RouteSchema = { summary: 'Forget a stored response (OpenAI Responses API)', params: IdParams };
