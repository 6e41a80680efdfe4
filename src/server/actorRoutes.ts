import type { FastifyInstance } from 'fastify';
import { type Address, address, parseAddress } from '../messaging/address.js';
import { ActorNotFoundError, InvalidArgumentError } from '../messaging/errors.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { messageSpec } from '../messaging/protocol.js';
import { asObject, type Body } from './asObject.js';
import { clientSignal } from './clientSignal.js';
import { confineDeclaredPaths } from './confineDeclaredPaths.js';
import { confinePayloadPaths } from './confinedPath.js';
import { MessageNotExposedError } from './MessageNotExposedError.js';
import { pipeEvents } from './pipeEvents.js';
import type { ServerContext } from './ServerContext.js';

function optionalTimeout(body: Body): { timeout?: number } {
  if (body.timeout === undefined) return {};
  if (typeof body.timeout !== 'number') throw new InvalidArgumentError('timeout must be a number of ms');
  return { timeout: body.timeout };
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
}
