import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { type InferenceRequest, SessionMessage } from '../actors/SessionActor/types.js';
import { type Address, address, parseAddress } from '../messaging/address.js';
import { ActorNotFoundError } from '../messaging/errors.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { messageSpec } from '../messaging/protocol.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import { EntityCollection, type ModelLoadOptions } from '../entities/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { clientSignal } from './clientSignal.js';
import { confineDeclaredPaths } from './confineDeclaredPaths.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import { MessageNotExposedError } from './MessageNotExposedError.js';
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
export async function pipeEvents<S>(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  start: (signal: AbortSignal) => GenerationStream<S>,
): Promise<FastifyReply> {
  const signal = clientSignal(request);
  await pipeStream(reply, start(signal), {
    signal,
    writeTimeoutMs: context.writeTimeoutMs,
    onEvent: (sse, event) => sse.send(event, event.type),
  });
  return reply;
}

/**
 * @internal What the generic routes may send to an actor: a message type its protocol marks
 * `exposed`, with every path field the protocol declares confined to the allowed directories (and,
 * as a second guard, every field that looks like a path).
 */
async function exposedMessage(
  context: ServerContext,
  router: MessageRouter,
  id: string,
  body: Body,
): Promise<{ target: Address; type: string; payload: unknown }> {
  if (typeof body.type !== 'string') throw new InvalidArgumentError('type must be a string');
  const target = address(parseAddress(id));
  if (!router.has(target)) throw new ActorNotFoundError(parseAddress(target));
  const protocol = router.protocolOf(target);
  const spec = protocol && messageSpec(protocol, body.type);
  if (!spec?.exposed) throw new MessageNotExposedError(parseAddress(target), body.type);
  const dirs = [...context.modelDirs, ...context.adapterDirs];
  const declared = await confineDeclaredPaths(dirs, body.payload, spec.paths ?? []);
  return { target, type: body.type, payload: await confinePayloadPaths(dirs, declared) };
}

/** @internal Routes of the actor model itself: ask/stream any actor, sessions, models, health. */
export function nativeRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router, sessions, models } = context;

  // An actor id has a kind (`model/demo`): `/actors/model/demo/ask`, or the id URL-encoded in one segment.
  for (const route of ['/actors/:id', '/actors/:kind/:name']) {
    type Params = { id?: string; kind?: string; name?: string };
    const idOf = (params: Params): string => params.id ?? `${params.kind}/${params.name}`;
    app.post<{ Params: Params }>(`${route}/ask`, async (request) => {
      const { target, type, payload } = await exposedMessage(context, router, idOf(request.params), asObject(request.body));
      const reply = await router.ask(target, type, payload, { ...optionalTimeout(asObject(request.body)), signal: clientSignal(request) });
      return { reply };
    });
    app.post<{ Params: Params }>(`${route}/stream`, async (request, reply) => {
      const body = asObject(request.body);
      const { target, type, payload } = await exposedMessage(context, router, idOf(request.params), body);
      return pipeEvents(context, request, reply, (signal) => router.stream(target, type, payload, { signal, ...optionalTimeout(body) }));
    });
  }

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
    const session = router.ref(await sessions.load(request.params.id, { signal }), sessionProtocol);
    // Checked by the SessionActor: a non-string message is its INVALID_ARGUMENT.
    const inference = {
      message: body.message,
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
    } as InferenceRequest;
    if (body.stream === false) {
      return session.ask(SessionMessage.Inference, inference, { timeout: Number.POSITIVE_INFINITY, signal });
    }
    return pipeEvents(context, request, reply, (signal) => session.stream(SessionMessage.Inference, inference, { signal }));
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/cancel', async (request) => {
    const session = router.ref(await sessions.load(request.params.id), sessionProtocol);
    return session.ask(SessionMessage.Cancel, null);
  });

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
        const running = models.running(model.id);
        if (!running) return { id: model.id, state: 'stopped' };
        const status = await running.ask(ModelMessage.Status, null, { timeout: 2_000 }).catch(() => undefined);
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
