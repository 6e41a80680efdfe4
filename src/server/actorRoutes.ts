import type { FastifyInstance } from 'fastify';
import { type Address, address, parseAddress } from '../messaging/address.js';
import { ActorNotFoundError } from '../messaging/errors.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { messageSpec } from '../messaging/protocol.js';
import { asObject, type Body } from './asObject.js';
import { clientSignal } from './clientSignal.js';
import { confineDeclaredPaths } from './confineDeclaredPaths.js';
import { confinePayloadPaths } from './confinedPath.js';
import { MessageNotExposedError } from './MessageNotExposedError.js';
import { pipeEvents } from './pipeEvents.js';
import { actorSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

/** The request's `timeout` (a number of ms: the route schema), if any. */
function optionalTimeout(body: Body): { timeout?: number } {
  return typeof body.timeout === 'number' ? { timeout: body.timeout } : {};
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
  body: Body & { type: string },
): Promise<{ target: Address; type: string; payload: unknown }> {
  const target = address(parseAddress(id));
  if (!router.has(target)) throw new ActorNotFoundError(parseAddress(target));
  const protocol = router.protocolOf(target);
  const spec = protocol && messageSpec(protocol, body.type);
  if (!spec?.exposed) throw new MessageNotExposedError(parseAddress(target), body.type);
  const dirs = [...new Set([...context.modelDirs, ...context.adapterDirs])];
  const declared = await confineDeclaredPaths(dirs, body.payload, spec.paths ?? []);
  return { target, type: body.type, payload: await confinePayloadPaths(dirs, declared) };
}

/**
 * @internal The generic actor routes: `POST /actors/:id/ask` and `/actors/:id/stream` send any
 * actor a message `{type, payload, timeout?}` that its protocol exposes.
 */
export function actorRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router } = context;

  // An actor id has a kind (`model/demo`): `/actors/model/demo/ask`, or the id URL-encoded in one segment.
  for (const [route, schemas] of [
    ['/actors/:id', { ask: actorSchemas.ask, stream: actorSchemas.stream }],
    ['/actors/:kind/:name', { ask: actorSchemas.askByKind, stream: actorSchemas.streamByKind }],
  ] as const) {
    type Params = { id?: string; kind?: string; name?: string };
    const idOf = (params: Params): string => params.id ?? `${params.kind}/${params.name}`;
    // The body is {type: string, payload?, timeout?: number} (the schema).
    const messageOf = (body: unknown) => asObject(body) as Body & { type: string };
    app.post<{ Params: Params }>(`${route}/ask`, { schema: schemas.ask }, async (request) => {
      const body = messageOf(request.body);
      const { target, type, payload } = await exposedMessage(context, router, idOf(request.params), body);
      const reply = await router.ask(target, type, payload, { ...optionalTimeout(body), signal: clientSignal(request) });
      return { reply };
    });
    app.post<{ Params: Params }>(`${route}/stream`, { schema: schemas.stream }, async (request, reply) => {
      const body = messageOf(request.body);
      const { target, type, payload } = await exposedMessage(context, router, idOf(request.params), body);
      return pipeEvents(context, request, reply, (signal) => router.stream(target, type, payload, { signal, ...optionalTimeout(body) }));
    });
  }
}
