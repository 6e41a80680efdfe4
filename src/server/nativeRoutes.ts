import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelStatus } from '../actors/ModelActor/types.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import { address, parseAddress } from '../messaging/address.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import { EntityCollection, type ModelLoadOptions } from '../entities/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { clientSignal } from './clientSignal.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';

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

/**
 * @internal Streams a GenerationStream's events as SSE (`event: token|done|error`); the client
 * leaving (at any stage: `clientSignal` watches from the first byte) aborts it, and an error known
 * before the first event is a plain HTTP error.
 */
export async function pipeEvents(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  start: (signal: AbortSignal) => GenerationStream,
): Promise<FastifyReply> {
  const signal = clientSignal(request);
  await pipeStream(reply, start(signal), {
    signal,
    writeTimeoutMs: context.writeTimeoutMs,
    onEvent: (sse, event) => sse.send(event, event.type),
  });
  return reply;
}

/** @internal Routes of the actor model itself: ask/stream any actor, sessions, models, health. */
export function nativeRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router, sessions, models } = context;

  app.post<{ Params: { id: string } }>('/actors/:id/ask', async (request) => {
    const body = asObject(request.body);
    if (typeof body.type !== 'string') throw new InvalidArgumentError('type must be a string');
    const payload = await confinePayloadPaths([...context.modelDirs, ...context.adapterDirs], body.payload);
    const reply = await router.ask(address(request.params.id), body.type, payload, { ...optionalTimeout(body), signal: clientSignal(request) });
    return { reply };
  });

  app.post<{ Params: { id: string } }>('/actors/:id/stream', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.type !== 'string') throw new InvalidArgumentError('type must be a string');
    const type = body.type;
    const payload = await confinePayloadPaths([...context.modelDirs, ...context.adapterDirs], body.payload);
    const target = address(request.params.id);
    return pipeEvents(context, request, reply, (signal) => router.stream(target, type, payload, { signal, ...optionalTimeout(body) }));
  });

  app.get('/sessions', async (request) => sessions.listReport({ signal: clientSignal(request) }));

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

  app.get<{ Params: { id: string } }>('/sessions/:id', async (request) => sessions.get(request.params.id, { signal: clientSignal(request) }));

  app.delete<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const id = parseAddress(request.params.id);
    if (!(await sessions.delete(id, { signal: clientSignal(request) }))) throw new EntityNotFoundError(EntityCollection.Sessions, id);
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/messages', async (request, reply) => {
    const body = asObject(request.body);
    const signal = clientSignal(request);
    const session = await sessions.load(request.params.id, { signal });
    const inference = {
      message: body.message,
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
    };
    if (body.stream === false) {
      return router.ask(session, SessionMessage.Inference, inference, { timeout: Number.POSITIVE_INFINITY, signal });
    }
    return pipeEvents(context, request, reply, (signal) => router.stream(session, SessionMessage.Inference, inference, { signal }));
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/cancel', async (request) =>
    router.ask(address(request.params.id), SessionMessage.Cancel, null),
  );

  app.post('/models', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.id !== 'string' || typeof body.provider !== 'string') {
      throw new InvalidArgumentError('a model needs id, provider and path');
    }
    const path = await confinedPath(context.modelDirs, body.path, 'model');
    // Load options may name adapters the model starts with: the same directories apply.
    const load = await confinePayloadPaths(context.adapterDirs, body.load);
    const published = await models.publishModel({
      id: body.id,
      provider: address(body.provider.replace(/^@\((.*)\)$/, '$1')),
      path,
      ...(load !== undefined ? { load: load as ModelLoadOptions } : {}),
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
