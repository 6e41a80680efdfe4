import type { FastifyInstance } from 'fastify';
import type { ModelLoadOptions } from '../entities/types.js';
import { address } from '../messaging/address.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { asObject } from './asObject.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal Model lifecycle: `POST /models` `{id, provider, path, load?}` creates a model (the
 * file confined to the model directories; an existing id is `ENTITY_EXISTS`, 409, and nothing
 * changes), `DELETE /models/:id` unloads and forgets one (204; generations in flight end with
 * `ACTOR_STOPPED`; unknown id: 404). (A model's adapters are `adapterRoutes`.)
 */
export function modelRoutes(app: FastifyInstance, context: ServerContext): void {
  const { models } = context;

  app.post('/models', async (request, reply) => {
    const body = asObject(request.body);
    if (typeof body.id !== 'string' || typeof body.provider !== 'string') {
      throw new InvalidArgumentError('a model needs id, provider and path');
    }
    const path = await confinedPath(context.modelDirs, body.path, 'model');
    // Load options may name adapters the model starts with: the same directories apply.
    const load = await confinePayloadPaths(context.adapterDirs, body.load);
    const published = await models.createModel({
      id: body.id,
      provider: address(body.provider.replace(/^@\((.*)\)$/, '$1')),
      path,
      ...(load !== undefined ? { load: load as ModelLoadOptions } : {}),
    });
    return reply.status(201).send({ address: published });
  });

  app.delete<{ Params: { id: string } }>('/models/:id', async (request, reply) => {
    await models.deleteModel(request.params.id);
    return reply.status(204).send();
  });
}
