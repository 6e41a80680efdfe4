import Type from 'typebox';
import { MAX_CHOICES } from '../openaiParams.js';
import type { RouteSchema } from './validation.js';
import { IdParams, JsonSchemaObject, NonEmpty, Opt, PositiveInteger, StringOrStrings, TaggedUnion } from './common.js';

/**
 * @internal The OpenAI routes' request schemas: chat and text completions, embeddings, models
 * (the Responses API's are in openaiResponses.ts). Ranges are OpenAI's: temperature 0..2, top_p
 * 0..1, penalties −2..2, logit biases −100..100, `n` 1..8 (this server's limit), `top_logprobs`
 * 0..20, the legacy `logprobs: k` 0..5.
 */

/**
 * A content part: text, or an image (`image_url.url` a `data:image/...;base64,` or `http(s)://` URL,
 * read and checked by the route, and allowed on user messages only; `detail` is accepted and not
 * used: a local model sees no image, a remote one gets the image at its own default detail).
 */
const ContentPart = TaggedUnion({
  text: { text: Type.String() },
  image_url: { image_url: Type.Object({ url: Type.String(), detail: Opt(Type.Enum(['auto', 'low', 'high'])) }) },
});

const ToolCall = Type.Object({
  id: Type.String(),
  type: Type.Optional(Type.Literal('function')),
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});

const ChatMessage = Type.Object({
  role: Type.Enum(['system', 'developer', 'user', 'assistant', 'tool']),
  // Absent or null only on an assistant message that calls tools (checked by the route).
  content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPart), Type.Null()])),
  name: Type.Optional(Type.String()),
  tool_calls: Opt(Type.Array(ToolCall)),
  tool_call_id: Type.Optional(Type.String()),
});

/** A tool: `type` other than `function` is refused by name (`UNSUPPORTED_PARAMETER`), so only function tools need `function`. Ollama's are the same. */
export const Tool = Type.Object({
  type: Type.String(),
  function: Type.Optional(
    Type.Object({
      name: Type.String(),
      description: Opt(Type.String()),
      parameters: Opt(JsonSchemaObject()),
      strict: Opt(Type.Boolean()),
    }),
  ),
});

const ToolChoice = Type.Union([
  Type.Enum(['auto', 'none', 'required']),
  Type.Object({ type: Type.String(), function: Type.Optional(Type.Object({ name: Type.String() })) }),
]);

const ResponseFormat = Type.Object({
  type: Type.Enum(['text', 'json_object', 'json_schema']),
  json_schema: Type.Optional(
    Type.Object({
      name: Type.Optional(Type.String()),
      description: Opt(Type.String()),
      schema: Opt(JsonSchemaObject()),
      strict: Opt(Type.Boolean()),
    }),
  ),
});

/** Token id → bias added to its logit. */
const LogitBias = Type.Record(Type.String(), Type.Number({ minimum: -100, maximum: 100 }), {
  propertyNames: { type: 'string', pattern: '^(0|[1-9]\\d{0,9})$', title: 'a token id (an integer ≥ 0)' },
});

/** What chat and text completions share: sampling, length, stop, logprobs, choices, tools, and the non-standard `session` and `adapters`. */
const generationFields = {
  model: NonEmpty(),
  stream: Opt(Type.Boolean()),
  stream_options: Opt(Type.Object({ include_usage: Opt(Type.Boolean()) })),
  max_tokens: Opt(PositiveInteger()),
  max_completion_tokens: Opt(PositiveInteger()),
  temperature: Opt(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Opt(Type.Number({ minimum: 0, maximum: 1 })),
  seed: Opt(Type.Integer()),
  stop: Opt(StringOrStrings()),
  frequency_penalty: Opt(Type.Number({ minimum: -2, maximum: 2 })),
  presence_penalty: Opt(Type.Number({ minimum: -2, maximum: 2 })),
  logit_bias: Opt(LogitBias),
  // Chat's is a boolean; the legacy completions' is k, how many alternatives (0..5). Both routes read either.
  logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 0, maximum: 5 }), Type.Null()])),
  top_logprobs: Opt(Type.Integer({ minimum: 0, maximum: 20 })),
  n: Opt(Type.Integer({ minimum: 1, maximum: MAX_CHOICES })),
  user: Opt(Type.String()),
  response_format: Opt(ResponseFormat),
  tools: Opt(Type.Array(Tool)),
  tool_choice: Opt(ToolChoice),
  parallel_tool_calls: Opt(Type.Boolean()),
  /** Non-standard: the session whose history and KV cache this continues (or the `x-session-id` header). */
  session: Opt(NonEmpty()),
  /** Non-standard: the LoRA adapter set to generate with (`[]`: the base model). */
  adapters: Opt(Type.Array(Type.Object({ path: Type.String(), scale: Type.Optional(Type.Number()) }))),
};

export const chatCompletionsSchema: RouteSchema = {
  summary: 'Chat completion (OpenAI): whole or streamed (SSE)',
  body: Type.Object({ ...generationFields, messages: Type.Array(ChatMessage, { minItems: 1 }) }),
};

export const completionsSchema: RouteSchema = {
  summary: 'Text completion (OpenAI legacy): whole or streamed (SSE)',
  body: Type.Object({
    ...generationFields,
    prompt: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1, maxItems: 1, title: 'an array of one string' })]),
  }),
};

export const embeddingsSchema: RouteSchema = {
  summary: 'Embeddings (OpenAI)',
  body: Type.Object({
    model: NonEmpty(),
    input: StringOrStrings(),
    encoding_format: Opt(Type.Enum(['float', 'base64'])),
    dimensions: Opt(PositiveInteger()),
    user: Opt(Type.String()),
  }),
};

export const modelsSchema: RouteSchema = { summary: 'Published models (OpenAI)' };

export const modelSchema: RouteSchema = { summary: 'One published model (OpenAI)', params: IdParams };
