import Type from 'typebox';
import { routeSchemas } from './validation.js';
import { AnyObject, IdParams, NonEmpty } from './common.js';

/**
 * @internal The schemas of this server's own routes: sessions, models, adapters, the generic actor
 * routes, health and metrics. Payloads an actor checks itself (a session's `params`, a message's
 * `payload`, training examples) are only required to have their outer type here; paths are
 * confined to the allowed directories by the routes, after the schema.
 */

const AdapterSpec = Type.Object({ path: Type.String(), scale: Type.Optional(Type.Number()) });

const ActorParams = { kind: Type.String(), name: Type.String() };

/** `{type, payload?, timeout?}` to an actor: a message type its protocol exposes (checked by the route). */
const ActorMessage = Type.Object({ type: Type.String(), payload: Type.Optional(Type.Unknown()), timeout: Type.Optional(Type.Number()) });

export const sessionSchemas = routeSchemas({
  list: { summary: 'Stored sessions (and the ones that could not be read)' },
  create: {
    summary: 'Create a session',
    body: Type.Object({ model: NonEmpty(), id: Type.Optional(Type.String()), systemPrompt: Type.Optional(Type.String()), params: Type.Optional(AnyObject()) }),
  },
  get: { summary: "A session and its history", params: IdParams },
  delete: { summary: 'Delete a session', params: IdParams },
  message: {
    summary: "A session turn: SSE of token events, or one JSON reply with stream: false",
    params: IdParams,
    body: Type.Object(
      {
        message: Type.Optional(Type.String()),
        params: Type.Optional(AnyObject()),
        stream: Type.Optional(Type.Boolean()),
        // The results of the last reply's tool calls, the tools offered: checked by the session and the model.
        toolResults: Type.Optional(Type.Array(AnyObject())),
        tools: Type.Optional(Type.Array(AnyObject())),
        toolChoice: Type.Optional(Type.Unknown()),
        parallelToolCalls: Type.Optional(Type.Boolean()),
      },
      // A turn is a new message, or the answers to the last reply's calls.
      { anyOf: [{ required: ['message'] }, { required: ['toolResults'] }] },
    ),
  },
  cancel: { summary: "Cancel a session's turn in flight", params: IdParams },
});

const RemoteModelSpec = Type.Object(
  {
    model: NonEmpty(),
    maxConcurrent: Type.Optional(Type.Integer({ minimum: 1 })),
    maxQueue: Type.Optional(Type.Integer({ minimum: 0 })),
    vision: Type.Optional(Type.Boolean()),
    contextSize: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const modelSchemas = routeSchemas({
  create: {
    summary: "Publish a model: a local provider's GGUF file inside the model directories, or a remote provider's model",
    body: Type.Object(
      { id: NonEmpty(), provider: NonEmpty(), path: Type.Optional(NonEmpty()), load: Type.Optional(AnyObject()), remote: Type.Optional(RemoteModelSpec) },
      // A model is a file (local-llama) or a remote model (openai-compatible): exactly one of them.
      { oneOf: [{ required: ['path'], not: { required: ['remote'] } }, { required: ['remote'], not: { required: ['path'] } }] },
    ),
  },
  delete: { summary: 'Unload and forget a model', params: IdParams },
});

export const providerSchemas = routeSchemas({
  create: {
    summary: 'Publish a provider: local-llama, or openai-compatible with its base URL and the name of the environment variable holding its key',
    body: Type.Object({
      id: NonEmpty(),
      kind: NonEmpty(),
      settings: Type.Optional(
        Type.Object(
          {
            baseURL: Type.Optional(Type.String({ pattern: '^https?://' })),
            apiKeyEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
            headers: Type.Optional(Type.Record(Type.String(), Type.String())),
            timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
            maxRetries: Type.Optional(Type.Integer({ minimum: 0 })),
            maxRetryDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
          },
          // Refused, not ignored: `apiKey` above all (keys are never stored; name the variable in apiKeyEnv).
          { additionalProperties: false },
        ),
      ),
    }),
  },
  list: { summary: 'The published providers (their settings hold no secrets)' },
});

export const adapterSchemas = routeSchemas({
  list: { summary: "A model's adapter set", params: IdParams },
  apply: { summary: 'Validate and apply an adapter', params: IdParams, body: AdapterSpec },
  rescale: { summary: "Change an applied adapter's scale", params: IdParams, body: Type.Object({ path: Type.String(), scale: Type.Number() }) },
  remove: {
    summary: 'Remove an adapter (path in the body or the query), or all of them',
    params: IdParams,
    // No body at all is fine (a DELETE usually has none): the path may be in the query instead.
    body: Type.Union([Type.Object({ path: Type.Optional(Type.String()) }), Type.Null()]),
    querystring: Type.Object({ path: Type.Optional(Type.String()) }),
  },
  validate: { summary: "Check an adapter against the model: its rank, alpha and targets", params: IdParams, body: Type.Object({ path: Type.String() }) },
  evaluate: {
    summary: 'Perplexity and loss of examples: SSE progress events, or JSON with stream: false',
    params: IdParams,
    body: Type.Object({
      examples: Type.Array(AnyObject()),
      adapters: Type.Optional(Type.Array(AdapterSpec)),
      adapter: Type.Optional(Type.Union([Type.String(), AdapterSpec])),
      method: Type.Optional(Type.Enum(['logits', 'probabilities'])),
      stream: Type.Optional(Type.Boolean()),
    }),
  },
});

export const actorSchemas = routeSchemas({
  ask: { summary: 'Ask an actor (a message its protocol exposes) → {reply}', params: Type.Object({ id: Type.String() }), body: ActorMessage },
  stream: { summary: "Stream an actor's reply (SSE of token events)", params: Type.Object({ id: Type.String() }), body: ActorMessage },
  askByKind: { summary: 'Ask an actor by kind and name → {reply}', params: Type.Object(ActorParams), body: ActorMessage },
  streamByKind: { summary: "Stream an actor's reply by kind and name (SSE)", params: Type.Object(ActorParams), body: ActorMessage },
});

export const healthSchemas = routeSchemas({
  health: { summary: "Each model's state: 200 ok, 503 loading or failed" },
  metrics: { summary: 'Prometheus metrics' },
});
