import Type from 'typebox';
import type { RouteSchema } from './validation.js';
import { AnyObject, JsonSchemaObject, NonEmpty, Opt, PositiveInteger } from './common.js';

/**
 * @internal The Anthropic Messages API's request schemas (`/v1/messages`, `/v1/messages/count_tokens`).
 * Ranges are Anthropic's: temperature and top_p 0..1. Block types other than text, image, tool_use
 * and tool_result, server tools, `thinking`, `mcp_servers` and `container` pass the schema and are
 * refused by name by the route (`UNSUPPORTED_PARAMETER`).
 */

/** A text block of `system` or of a tool result (other types are refused by name). */
const TextBlock = Type.Object({ type: Type.String(), text: Type.Optional(Type.String()) });

/**
 * A content block: `text` needs `text`, `image` its `source` (base64 `media_type` + `data`, or
 * `url`), `tool_use` `id`, `name` and `input`, `tool_result` `tool_use_id` (checked by the route).
 */
const ContentBlock = Type.Object({
  type: Type.String(),
  text: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  input: Type.Optional(AnyObject()),
  tool_use_id: Type.Optional(Type.String()),
  content: Opt(Type.Union([Type.String(), Type.Array(TextBlock)])),
  is_error: Opt(Type.Boolean()),
  source: Type.Optional(
    Type.Object({ type: Type.String(), media_type: Type.Optional(Type.String()), data: Type.Optional(Type.String()), url: Type.Optional(Type.String()) }),
  ),
});

const Message = Type.Object({
  role: Type.Enum(['user', 'assistant']),
  content: Type.Union([Type.String(), Type.Array(ContentBlock)]),
});

/** A client tool `{name, description?, input_schema}`; a `type` other than `custom` is a server tool, refused by name. */
const Tool = Type.Object({
  type: Opt(Type.String()),
  name: Type.String(),
  description: Opt(Type.String()),
  input_schema: Type.Optional(JsonSchemaObject()),
});

const ToolChoice = Type.Object({
  type: Type.Enum(['auto', 'any', 'tool', 'none']),
  name: Type.Optional(Type.String()),
  disable_parallel_tool_use: Opt(Type.Boolean()),
});

/** What both routes read: the conversation, the tools and the sampling fields. */
const messageFields = {
  model: NonEmpty(),
  system: Opt(Type.Union([Type.String(), Type.Array(TextBlock)])),
  messages: Type.Array(Message, { minItems: 1 }),
  temperature: Opt(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Opt(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Opt(Type.Integer({ minimum: 0 })),
  stop_sequences: Opt(Type.Array(NonEmpty())),
  stream: Opt(Type.Boolean()),
  metadata: Opt(AnyObject()),
  tools: Opt(Type.Array(Tool)),
  tool_choice: Opt(ToolChoice),
};

export const messagesSchema: RouteSchema = {
  summary: 'Create a message (Anthropic Messages API): whole or streamed (named SSE events)',
  body: Type.Object({ ...messageFields, max_tokens: PositiveInteger() }),
};

export const countTokensSchema: RouteSchema = {
  summary: "Count a message's input tokens (Anthropic Messages API)",
  body: Type.Object({ ...messageFields, max_tokens: Opt(PositiveInteger()) }),
};
