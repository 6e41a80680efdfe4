import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelStatus } from '../actors/ModelActor/types.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import { address } from '../messaging/address.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import type { ServerContext } from './ServerContext.js';
import { SseWriter } from './SseWriter.js';

type Body = Record<string, unknown>;

/** @internal */
export function asObject(body: unknown): Body {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('the request body must be a JSON object');
  return body as Body;
}

function optionalTimeout(body: Body): { timeout?: number } {
  if (body.timeout === undefined) return {};
  if (typeof body.timeout !== 'number') throw new InvalidArgumentError('timeout must be a number of ms');
  return { timeout: body.timeout };
}

/** @internal Streams a GenerationStream's events as SSE (`event: token|done|error`); the client leaving aborts it. */
export async function pipeEvents(reply: FastifyReply, start: (signal: AbortSignal) => GenerationStream): Promise<FastifyReply> {
  const controller = new AbortController();
  const stream = start(controller.signal);
  if (stream.rejectedWith) throw stream.rejectedWith;
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  sse.signal.addEventListener('abort', () => controller.abort(sse.signal.reason), { once: true });
  for await (const event of stream) await sse.send(event, event.type);
  sse.end();
  return reply;
}


/** @internal Routes of the actor model itself: ask/stream any actor, sessions, models, health. */
export function nativeRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router, sessions, models } = context;

  app.post<{ Params: { id: string } }>('/actors/:id/ask', async (request) => {
    const body = asObject(request.body);
    if (typeof body.type !== 'string') throw new InvalidArgumentError('type must be a string');
    confinePayloadPaths([...context.modelDirs, ...context.adapterDirs], body.payload);
    const reply = await router.ask(address(request.params.id), body.type, body.payload, optionalTimeout(body));
    return { reply };
  });

  app.post<{ Params: { id: string } }>('/actors/:id/stream', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.type !== 'string') throw new InvalidArgumentError('type must be a string');
    const type = body.type;
    confinePayloadPaths([...context.modelDirs, ...context.adapterDirs], body.payload);
    return pipeEvents(reply, (signal) => router.stream(address(request.params.id), type, body.payload, { signal, ...optionalTimeout(body) }));
  });

  app.get('/sessions', async () => ({ sessions: await sessions.list() }));

  app.post('/sessions', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.model !== 'string') throw new InvalidArgumentError('model must be a string');
    const created = await sessions.create({
      model: body.model,
      ...(typeof body.id === 'string' ? { id: body.id } : {}),
      ...(typeof body.systemPrompt === 'string' ? { systemPrompt: body.systemPrompt } : {}),
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
    });
    return reply.status(201).send(await sessions.get(created));
  });

  app.get<{ Params: { id: string } }>('/sessions/:id', async (request) => sessions.get(request.params.id));

  app.delete<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const deleted = await sessions.delete(request.params.id);
    return reply.status(deleted ? 204 : 404).send();
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/messages', async (request, reply) => {
    const body = asObject(request.body);
    const session = await sessions.load(request.params.id);
    const inference = {
      message: body.message,
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
    };
    if (body.stream === false) {
      return router.ask(session, SessionMessage.Inference, inference, { timeout: Number.POSITIVE_INFINITY });
    }
    return pipeEvents(reply, (signal) => router.stream(session, SessionMessage.Inference, inference, { signal }));
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/cancel', async (request) =>
    router.ask(address(request.params.id), SessionMessage.Cancel, null),
  );

  app.post('/models', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.id !== 'string' || typeof body.provider !== 'string') {
      throw new InvalidArgumentError('a model needs id, provider and path');
    }
    const path = confinedPath(context.modelDirs, body.path, 'model');
    // Load options may name adapters the model starts with: the same directories apply.
    confinePayloadPaths(context.adapterDirs, body.load);
    const published = await models.publishModel({
      id: body.id,
      provider: address(body.provider.replace(/^@\((.*)\)$/, '$1')),
      path,
      ...(typeof body.load === 'object' && body.load !== null ? { load: body.load } : {}),
    });
    return reply.status(201).send({ address: published });
  });

  app.get('/health', async (_request: FastifyRequest, reply: FastifyReply) => {
    const states = await Promise.all(
      (await models.listModels()).map(async (model) => {
        if (!router.has(model.id)) return { id: model.id, state: 'stopped' };
        const status = await router.ask<ModelStatus>(model.id, ModelMessage.Status, null, { timeout: 2_000 }).catch(() => undefined);
        return { id: model.id, state: status?.state ?? 'unresponsive' };
      }),
    );
    const loading = states.some((s) => s.state === 'loading' || s.state === 'unresponsive');
    return reply.status(loading ? 503 : 200).send({ status: loading ? 'loading' : 'ok', models: states });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  );
}
