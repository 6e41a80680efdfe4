import Type from 'typebox';
import type { RouteSchema } from './validation.js';
import { AnyObject, JsonSchemaObject, NonEmpty, Opt, StringOrStrings } from './common.js';
import { Tool } from './openai.js';

/**
 * @internal The Ollama API's request schemas (`/api/*`). Ollama fixes no sampling ranges (the
 * ModelActor checks them); unknown `options` keys are ignored, as Ollama ignores them, and what
 * this server cannot do (`think`, `suffix`, `template`, `context`, `dimensions`, `typical_p` ≠ 1,
 * `mirostat`, `images` with `raw`) passes the schema and is refused by name by the route.
 * `images` are base64 strings (checked by the route): they reach the model, and one that cannot
 * see refuses them (`MODALITY_NOT_SUPPORTED`).
 */

const ToolCall = Type.Object({
  id: Opt(Type.String()),
  function: Type.Object({ name: Type.String(), arguments: Type.Union([AnyObject(), Type.String()]) }),
});

const ChatMessage = Type.Object({
  role: Type.Enum(['system', 'user', 'assistant', 'tool']),
  // Absent only on an assistant message that calls tools (checked by the route).
  content: Opt(Type.String()),
  images: Opt(Type.Array(Type.String())),
  tool_calls: Opt(Type.Array(ToolCall)),
  tool_call_id: Opt(Type.String()),
  tool_name: Opt(Type.String()),
});

const Options = Type.Object({
  num_predict: Opt(Type.Integer()),
  temperature: Opt(Type.Number()),
  top_p: Opt(Type.Number()),
  top_k: Opt(Type.Integer()),
  min_p: Opt(Type.Number()),
  seed: Opt(Type.Integer()),
  stop: Opt(StringOrStrings()),
  repeat_penalty: Opt(Type.Number()),
  repeat_last_n: Opt(Type.Integer()),
  presence_penalty: Opt(Type.Number()),
  frequency_penalty: Opt(Type.Number()),
  typical_p: Opt(Type.Number()),
  mirostat: Opt(Type.Integer()),
  // Load-time options: accepted, not applied (a model's load options are fixed when it is published).
  num_ctx: Opt(Type.Integer()),
  num_batch: Opt(Type.Integer()),
  num_gpu: Opt(Type.Integer()),
  main_gpu: Opt(Type.Integer()),
  num_thread: Opt(Type.Integer()),
});

/** What `/api/chat` and `/api/generate` share. */
const generationFields = {
  model: NonEmpty(),
  format: Opt(Type.Union([Type.Enum(['json', '']), JsonSchemaObject()])),
  options: Opt(Options),
  stream: Opt(Type.Boolean()),
  keep_alive: Opt(Type.Union([Type.String(), Type.Number()])),
  think: Opt(Type.Union([Type.Boolean(), Type.String()])),
};

export const chatSchema: RouteSchema = {
  summary: 'Chat (Ollama): NDJSON lines, or one object with stream: false',
  body: Type.Object({ ...generationFields, messages: Type.Array(ChatMessage), tools: Opt(Type.Array(Tool)) }),
};

export const generateSchema: RouteSchema = {
  summary: 'Generate from a prompt (Ollama): NDJSON lines, or one object with stream: false',
  body: Type.Object({
    ...generationFields,
    prompt: Type.String(),
    system: Opt(Type.String()),
    raw: Opt(Type.Boolean()),
    suffix: Opt(Type.String()),
    template: Opt(Type.String()),
    context: Opt(Type.Array(Type.Integer())),
    images: Opt(Type.Array(Type.String())),
  }),
};

export const embedSchema: RouteSchema = {
  summary: 'Embeddings (Ollama)',
  body: Type.Object({ model: NonEmpty(), input: StringOrStrings(), truncate: Opt(Type.Boolean()), options: Opt(AnyObject()), keep_alive: Opt(Type.Union([Type.String(), Type.Number()])) }),
};

export const embeddingsSchema: RouteSchema = {
  summary: 'One embedding (Ollama, legacy)',
  body: Type.Object({ model: NonEmpty(), prompt: Type.String(), options: Opt(AnyObject()), keep_alive: Opt(Type.Union([Type.String(), Type.Number()])) }),
};

export const showSchema: RouteSchema = {
  summary: "A model's template, details and info (Ollama; starts the model)",
  // `model`, or the older `name`: one of them is required (checked by the route).
  body: Type.Object({ model: Opt(Type.String()), name: Opt(Type.String()), verbose: Opt(Type.Boolean()) }),
};

export const versionSchema: RouteSchema = { summary: "The server's version (Ollama)" };
export const tagsSchema: RouteSchema = { summary: 'Published models (Ollama)' };
export const psSchema: RouteSchema = { summary: 'Running models (Ollama)' };
