import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nanoid } from 'nanoid';
import type { InferenceRequest } from '../actors/SessionActor/types.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import {
  type ChatMessage,
  type EmbedResult,
  type GenerateRequest,
  type GenerationParams,
  type GenerationUsage,
  ModelMessage,
} from '../actors/ModelActor/types.js';
import { ActorError, ErrorCode, InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { FinishReason, StreamEventType, type TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { clientSignal } from './clientSignal.js';
import { confinedPath } from './confinedPath.js';
import { UnsupportedDimensionsError } from './embeddingErrors.js';
import { errorBody } from './httpErrors.js';
import { checkUnsupported, LogprobEntries, mergeStreams, type OpenAiTokenLogprob, openAiPenalties } from './openaiParams.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';
import { SseWriter } from './SseWriter.js';

/** @internal An OpenAI request body, loosely: every field is checked before use. */
type Body = Record<string, unknown>;

function asObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('the request body must be a JSON object');
  }
  return body as Body;
}

function modelId(body: Body): string {
  if (typeof body.model !== 'string' || body.model.length === 0) throw new InvalidArgumentError('model must be a non-empty string');
  return body.model;
}

/** Text of an OpenAI message content: a string, or an array of `{type: 'text', text}` parts. */
function contentText(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, j) => {
        if (typeof part === 'object' && part !== null && (part as Body).type === 'text' && typeof (part as Body).text === 'string') {
          return (part as Body).text as string;
        }
        throw new InvalidArgumentError(`messages[${index}].content[${j}] must be a text part; only text is supported`);
      })
      .join('');
  }
  throw new InvalidArgumentError(`messages[${index}].content must be a string or an array of text parts`);
}

function chatMessages(body: Body): ChatMessage[] {
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new InvalidArgumentError('messages must be a non-empty array');
  }
  return body.messages.map((message: unknown, index) => {
    const m = message as Body;
    const role = m?.role === 'developer' ? 'system' : m?.role;
    if (role !== 'system' && role !== 'user' && role !== 'assistant') {
      throw new InvalidArgumentError(`messages[${index}].role must be system, developer, user or assistant, got ${JSON.stringify(m?.role)}`);
    }
    return { role, content: contentText(m.content, index) };
  });
}

/** OpenAI sampling fields → GenerationParams (the ModelActor validates the values). */
function generationParams(body: Body): GenerationParams {
  const params: GenerationParams = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) params.maxTokens = maxTokens as number;
  if (body.temperature !== undefined && body.temperature !== null) params.temperature = body.temperature as number;
  if (body.top_p !== undefined && body.top_p !== null) params.topP = body.top_p as number;
  if (body.seed !== undefined && body.seed !== null) params.seed = body.seed as number;
  const repeatPenalty = openAiPenalties(body, maxTokens);
  if (repeatPenalty) params.repeatPenalty = repeatPenalty;
  if (body.stop !== undefined && body.stop !== null) params.stop = typeof body.stop === 'string' ? [body.stop] : (body.stop as string[]);
  const format = body.response_format as Body | undefined;
  if (format !== undefined && format !== null) {
    if (format.type === 'json_schema') {
      const schema = (format.json_schema as Body | undefined)?.schema;
      if (typeof schema !== 'object' || schema === null) throw new InvalidArgumentError('response_format.json_schema.schema must be an object');
      params.jsonSchema = schema;
    } else if (format.type === 'json_object') {
      params.jsonSchema = { type: 'object' };
    } else if (format.type !== 'text') {
      throw new InvalidArgumentError(`response_format.type must be text, json_object or json_schema, got ${JSON.stringify(format.type)}`);
    }
  }
  return params;
}

function finishReason(reason: string | undefined): string {
  return reason === FinishReason.Length ? 'length' : 'stop';
}

function openAiUsage(usage: Partial<GenerationUsage> | undefined) {
  return {
    prompt_tokens: usage?.promptTokens ?? 0,
    completion_tokens: usage?.completionTokens ?? 0,
    total_tokens: usage?.totalTokens ?? 0,
    // OpenAI's field for prompt tokens served from cache: here, from the slot's KV cache.
    prompt_tokens_details: { cached_tokens: usage?.cachedPromptTokens ?? 0 },
  };
}

/**
 * The extension field `adapters: [{path, scale?}]` (as llama.cpp's server takes `lora`): the LoRA
 * adapter set to generate with, `[]` for the base model. Paths must lie inside the adapter directories.
 */
async function requestAdapters(context: ServerContext, body: Body): Promise<Pick<GenerateRequest, 'adapters'>> {
  if (body.adapters === undefined || body.adapters === null) return {};
  if (!Array.isArray(body.adapters)) throw new InvalidArgumentError('adapters must be an array of { path, scale? }');
  return {
    adapters: await Promise.all(
      body.adapters.map(async (adapter: unknown, index) => {
        const spec = adapter as Body | null;
        if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError(`adapters[${index}] must be { path, scale? }`);
        return {
          path: await confinedPath(context.adapterDirs, spec.path, 'adapter'),
          ...(spec.scale === undefined ? {} : { scale: spec.scale as number }),
        };
      }),
    ),
  };
}

/** The session a request names (`session` in the body or `x-session-id`), if any. */
function sessionOf(request: FastifyRequest, body: Body): string | undefined {
  const header = request.headers['x-session-id'];
  const session = body.session ?? (Array.isArray(header) ? header[0] : header);
  if (session === undefined) return undefined;
  if (typeof session !== 'string' || session.length === 0) throw new InvalidArgumentError('session must be a non-empty string');
  return session;
}

/**
 * Runs the generations of an OpenAI route, one per choice (`n`), each a sequence of its own that
 * the engine batches with the others: through the named session (its history and KV cache; only
 * the last user message is new; one choice) or statelessly against the model. With a `seed`,
 * choice `i` samples with `seed + i`, so choices differ (unless greedy) and each is reproducible.
 * Aborts when `signal` fires; choices already started are cancelled if a later one fails to start.
 */
async function startGenerations(
  context: ServerContext,
  request: FastifyRequest,
  body: Body,
  request_: { messages?: ChatMessage[]; prompt?: string },
  signal: AbortSignal,
  options: { logprobs: boolean; n: number },
): Promise<GenerationStream<{ usage: GenerationUsage }>[]> {
  const params = generationParams(body);
  const session = sessionOf(request, body);
  if (session !== undefined) {
    if (options.logprobs) throw new UnsupportedParameterError('logprobs', 'not with a session (a session turn carries no logprobs); send the messages without one');
    if (options.n > 1) throw new UnsupportedParameterError('n', 'only 1 with a session (a session turn has one reply); send the messages without one');
    const messages = request_.messages ?? [{ role: 'user' as const, content: request_.prompt ?? '' }];
    const last = messages.at(-1);
    if (last?.role !== 'user') throw new InvalidArgumentError('with a session, the last message must be the new user message');
    const chat = context.router.ref(await context.sessions.load(session, { signal }), sessionProtocol);
    const inference: InferenceRequest = { message: last.content, params };
    return [chat.stream(SessionMessage.Inference, inference, { signal })];
  }
  const adapters = await requestAdapters(context, body);
  await context.models.getModel(modelId(body), { signal }); // 404 for anything that is not a published model
  const streams: GenerationStream<{ usage: GenerationUsage }>[] = [];
  try {
    for (let i = 0; i < options.n; i++) {
      const choiceParams = params.seed === undefined || i === 0 ? params : { ...params, seed: (params.seed + i) % 2 ** 32 };
      const generate: GenerateRequest = { ...request_, params: choiceParams, ...adapters, ...(options.logprobs ? { logprobs: true } : {}) };
      // Wrapped by openGeneration: a GenerationStream is itself awaitable.
      streams.push((await context.models.openGeneration(modelId(body), generate, { signal })).stream);
    }
  } catch (error) {
    for (const stream of streams) stream.cancel();
    throw error;
  }
  return streams;
}

/** The usage of all choices: the prompt counted once (as OpenAI does), the completions summed. */
function choicesUsage(usages: (Partial<GenerationUsage> | undefined)[]) {
  const each = usages.map(openAiUsage);
  const first = each[0] ?? openAiUsage(undefined);
  const completion = each.reduce((sum, u) => sum + u.completion_tokens, 0);
  return { ...first, completion_tokens: completion, total_tokens: first.prompt_tokens + completion };
}

/** Serves one chat or text completion, streamed as OpenAI SSE chunks or as one JSON object. */
async function complete(context: ServerContext, request: FastifyRequest, reply: FastifyReply, kind: 'chat' | 'text') {
  const body = asObject(request.body);
  const model = modelId(body);
  const input = kind === 'chat' ? { messages: chatMessages(body) } : { prompt: textPrompt(body) };
  const stream = body.stream === true;
  const includeUsage = (body.stream_options as Body | undefined)?.include_usage === true;
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${nanoid()}`;
  const created = Math.floor(Date.now() / 1000);
  const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
  const { logprobs, n } = checkUnsupported(body);

  // Watched from the first byte of the request: a client gone at any stage stops its work.
  const signal = clientSignal(request);
  const generations = await startGenerations(context, request, body, input, signal, { logprobs, n });
  if (!stream) {
    const usages: (Partial<GenerationUsage> | undefined)[] = [];
    const choices = await Promise.all(
      generations.map(async (generation, index) => {
        const entries = new LogprobEntries();
        const content: OpenAiTokenLogprob[] = [];
        generation.subscribe((event) => {
          if (event.type === 'done') usages[index] = event.usage;
          else if (event.type === 'token' && logprobs) {
            const entry = entries.push(event);
            if (entry) content.push(entry);
          }
        });
        const result = await generation;
        context.metrics.generation(model, result);
        const choiceLogprobs = logprobs ? openAiLogprobs(kind, content, 0) : null;
        const reason = finishReason(result.finishReason);
        return kind === 'chat'
          ? { index, message: { role: 'assistant', content: result.text }, finish_reason: reason, logprobs: choiceLogprobs }
          : { index, text: result.text, finish_reason: reason, logprobs: choiceLogprobs };
      }),
    ).catch((error: unknown) => {
      for (const generation of generations) generation.cancel();
      throw error;
    });
    return reply.send({ id, object, created, model, choices, usage: choicesUsage(generations.map((_, i) => usages[i])) });
  }

  const entries = generations.map(() => new LogprobEntries());
  const textOffsets = generations.map(() => 0);
  const chunk = (index: number, delta: unknown, reason: string | null, entry?: OpenAiTokenLogprob) => {
    let chunkLogprobs: unknown = null;
    if (entry) {
      chunkLogprobs = openAiLogprobs(kind, [entry], textOffsets[index]!);
      textOffsets[index]! += entry.token.length;
    }
    return {
      id,
      object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created,
      model,
      choices: [
        kind === 'chat'
          ? { index, delta, finish_reason: reason, logprobs: chunkLogprobs }
          : { index, text: delta, finish_reason: reason, logprobs: chunkLogprobs },
      ],
    };
  };
  const usages: (Partial<GenerationUsage> | undefined)[] = [];
  let running = generations.length;
  const onEvent = async (sse: SseWriter, index: number, event: TokenStreamEvent<{ usage: GenerationUsage }>) => {
    if (event.type === 'token') {
      const entry = logprobs ? entries[index]!.push(event) : undefined;
      if (event.content) await sse.send(chunk(index, kind === 'chat' ? { content: event.content } : event.content, null, entry));
    } else if (event.type === 'done') {
      usages[index] = event.usage;
      await sse.send(chunk(index, kind === 'chat' ? {} : '', finishReason(event.finishReason)));
      if (--running > 0) return;
      if (includeUsage) await sse.send({ ...chunk(0, kind === 'chat' ? {} : '', null), choices: [], usage: choicesUsage(generations.map((_, i) => usages[i])) });
      await sse.send('[DONE]');
    } else if (event.type === 'error') {
      await sse.send(errorBody(generations[index]!.stats.error));
    }
  };
  const onStart = async (sse: SseWriter) => {
    if (kind === 'chat') for (let index = 0; index < generations.length; index++) await sse.send(chunk(index, { role: 'assistant', content: '' }, null));
  };
  // Errors before the first token are plain HTTP errors (pipeStream throws them); after it, an error chunk ends the stream.
  if (generations.length === 1) {
    const generation = generations[0]!;
    await pipeStream(reply, generation, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent: (sse, event) => onEvent(sse, 0, event) });
    context.metrics.generation(model, generation.stats);
    return reply;
  }
  await pipeChoices(reply, generations, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent });
  for (const generation of generations) context.metrics.generation(model, generation.stats);
  return reply;
}

/**
 * Streams several choices' generations as one SSE response, their events interleaved as they come,
 * like {@link pipeStream} for one: an error before any choice's first event is thrown (a plain HTTP
 * error); after that, an error event ends the response. Every stream is cancelled when it ends.
 */
async function pipeChoices<S>(
  reply: FastifyReply,
  streams: GenerationStream<S>[],
  options: {
    signal: AbortSignal;
    writeTimeoutMs: number;
    onStart(sse: SseWriter): Promise<unknown>;
    onEvent(sse: SseWriter, index: number, event: TokenStreamEvent<S>): Promise<unknown>;
  },
): Promise<void> {
  const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
  const returnAll = () => Promise.all(iterators.map((iterator) => iterator.return?.().catch(() => {})));
  const firsts: IteratorResult<TokenStreamEvent<S>>[] = [];
  try {
    for (const iterator of iterators) firsts.push(await iterator.next());
  } catch (error) {
    await returnAll();
    throw error;
  }
  const failed = firsts.findIndex((step) => !step.done && step.value.type === StreamEventType.Error);
  if (failed >= 0) {
    await returnAll();
    const step = firsts[failed]!.value as TokenStreamEvent<S>;
    throw streams[failed]!.stats.error ?? new ActorError(step.code ?? ErrorCode.ActorFailed, step.error ?? 'stream failed');
  }
  reply.hijack();
  const sse = new SseWriter(reply.raw, { signal: options.signal, writeTimeoutMs: options.writeTimeoutMs });
  // The first events, already read, come first; then the rest of every stream, as it comes.
  const rest = mergeStreams(
    iterators.map((iterator, index): AsyncIterator<TokenStreamEvent<S>> => {
      let first: IteratorResult<TokenStreamEvent<S>> | undefined = firsts[index];
      return {
        next: () => {
          if (first === undefined) return iterator.next();
          const step = first;
          first = undefined;
          return Promise.resolve(step);
        },
        return: async () => iterator.return?.() ?? { done: true, value: undefined },
      };
    }),
  );
  try {
    await options.onStart(sse);
    for await (const { index, event } of rest) {
      if (!sse.open) break;
      await options.onEvent(sse, index, event);
      if (event.type === StreamEventType.Error) break;
    }
  } finally {
    await rest.return(undefined);
    sse.end();
  }
}

/**
 * A choice's `logprobs`: chat's `{content: [{token, logprob, bytes, top_logprobs}]}`, or the legacy
 * completions' `{tokens, token_logprobs, top_logprobs, text_offset}` (offsets from `offset`).
 */
function openAiLogprobs(kind: 'chat' | 'text', entries: OpenAiTokenLogprob[], offset: number) {
  if (kind === 'chat') return { content: entries, refusal: null };
  const textOffset: number[] = [];
  for (const entry of entries) {
    textOffset.push(offset);
    offset += entry.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map(() => ({})),
    text_offset: textOffset,
  };
}

function textPrompt(body: Body): string {
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== 'string') throw new InvalidArgumentError('prompt must be a string (or an array of one string)');
  return prompt;
}

/** The OpenAI model object of a published model. */
function openAiModel(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'llama-actors' };
}

/**
 * An embedding as OpenAI's `encoding_format: 'base64'` sends it (the official clients' default):
 * the vector's float32 values, little-endian, base64-encoded.
 */
function float32Base64(embedding: readonly number[]): string {
  const bytes = Buffer.alloc(embedding.length * 4);
  embedding.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/** @internal The OpenAI-compatible routes. */
export function openaiRoutes(app: FastifyInstance, context: ServerContext): void {
  app.post('/v1/chat/completions', (request, reply) => complete(context, request, reply, 'chat'));
  app.post('/v1/completions', (request, reply) => complete(context, request, reply, 'text'));

  app.post('/v1/embeddings', async (request, reply) => {
    const body = asObject(request.body);
    const signal = clientSignal(request);
    await context.models.getModel(modelId(body), { signal });
    const model = await context.models.ref(modelId(body), { signal });
    const input = body.input;
    if (typeof input !== 'string' && !(Array.isArray(input) && input.every((i) => typeof i === 'string'))) {
      throw new InvalidArgumentError('input must be a string or an array of strings');
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      throw new InvalidArgumentError(`encoding_format must be float or base64, got ${JSON.stringify(format)}`);
    }
    const dimensions = body.dimensions ?? undefined;
    if (dimensions !== undefined) {
      if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1) {
        throw new InvalidArgumentError(`dimensions must be a positive integer, got ${JSON.stringify(dimensions)}`);
      }
      const { embeddingSize } = await model.ask(ModelMessage.Info, null, { timeout: 120_000, signal });
      if (dimensions !== embeddingSize) throw new UnsupportedDimensionsError(dimensions, embeddingSize);
    }
    const result = await model.ask(ModelMessage.Embed, { input }, { timeout: 120_000, signal });
    return reply.send({
      object: 'list',
      model: modelId(body),
      data: result.embeddings.map((embedding, index) => ({
        object: 'embedding',
        index,
        embedding: format === 'base64' ? float32Base64(embedding) : embedding,
      })),
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });

  app.get('/v1/models', async () => {
    const models = await context.models.listModels();
    return {
      object: 'list',
      data: models.map((m) => openAiModel(m.id)),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
    const model = await context.models.getModel(request.params.id, { signal: clientSignal(request) });
    return openAiModel(model.id);
  });
}
