import type { FastifyInstance } from 'fastify';
import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { type InferenceRequest, SessionMessage } from '../actors/SessionActor/types.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import { EntityCollection } from '../entities/types.js';
import { parseAddress } from '../messaging/address.js';
import { asObject, type Body } from './asObject.js';
import { clientSignal } from './clientSignal.js';
import { pipeEvents } from './pipeEvents.js';
import { sessionSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal The session routes: list, create, read and delete sessions (`/sessions`,
 * `/sessions/:id`), send one a message (`POST /sessions/:id/messages`, SSE unless `stream: false`)
 * and cancel its reply (`POST /sessions/:id/cancel`).
 */
export function sessionRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router, sessions } = context;

  app.get('/sessions', { schema: sessionSchemas.list }, async (request) => sessions.listReport({ signal: clientSignal(request) }));

  app.post('/sessions', { schema: sessionSchemas.create }, async (request, reply) => {
    const body = asObject(request.body) as Body & { model: string }; // model, id, systemPrompt and params typed by the schema
    const created = await sessions.create({
      model: body.model,
      ...(typeof body.id === 'string' ? { id: body.id } : {}),
      ...(typeof body.systemPrompt === 'string' ? { systemPrompt: body.systemPrompt } : {}),
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
    });
    return reply.status(201).send(await sessions.get(created));
  });

  app.get<{ Params: { id: string } }>('/sessions/:id', { schema: sessionSchemas.get }, async (request) => sessions.get(request.params.id, { signal: clientSignal(request) }));

  app.delete<{ Params: { id: string } }>('/sessions/:id', { schema: sessionSchemas.delete }, async (request, reply) => {
    const id = parseAddress(request.params.id);
    if (!(await sessions.delete(id, { signal: clientSignal(request) }))) throw new EntityNotFoundError(EntityCollection.Sessions, id);
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/messages', { schema: sessionSchemas.message }, async (request, reply) => {
    const body = asObject(request.body);
    const signal = clientSignal(request);
    const session = router.ref(await sessions.load(request.params.id, { signal }), sessionProtocol);
    // Checked by the SessionActor: a non-string message is its INVALID_ARGUMENT.
    const inference = {
      ...(body.message === undefined ? {} : { message: body.message }),
      ...(typeof body.params === 'object' && body.params !== null ? { params: body.params } : {}),
      // A turn may offer tools and answer the last reply's calls (checked by the session and the model).
      ...Object.fromEntries(['toolResults', 'tools', 'toolChoice', 'parallelToolCalls'].filter((key) => body[key] !== undefined).map((key) => [key, body[key]])),
    } as InferenceRequest;
    if (body.stream === false) {
      return session.ask(SessionMessage.Inference, inference, { timeout: Number.POSITIVE_INFINITY, signal });
    }
    return pipeEvents(context, request, reply, (signal) => session.stream(SessionMessage.Inference, inference, { signal }));
  });

  app.post<{ Params: { id: string } }>('/sessions/:id/cancel', { schema: sessionSchemas.cancel }, async (request) => {
    const session = router.ref(await sessions.load(request.params.id), sessionProtocol);
    return session.ask(SessionMessage.Cancel, null);
  });
}
