import type { FastifyInstance } from 'fastify';
import type { ModelLoadOptions } from '../entities/types.js';
import { address } from '../messaging/address.js';
import { asObject, type Body } from './asObject.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import { modelSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal Model lifecycle: `POST /models` `{id, provider, path, load?}` creates a model (the
 * file confined to the model directories; an existing id is `ENTITY_EXISTS`, 409, and nothing
 * changes), `DELETE /models/:id` unloads and forgets one (204; generations in flight end with
 * `ACTOR_STOPPED`; unknown id: 404). (A model's adapters are `adapterRoutes`.)
 */
export function modelRoutes(app: FastifyInstance, context: ServerContext): void {
  const { models } = context;

  app.post('/models', { schema: modelSchemas.create }, async (request, reply) => {
    const body = asObject(request.body) as Body & { id: string; provider: string }; // id, provider and path required by the schema
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

  app.delete<{ Params: { id: string } }>('/models/:id', { schema: modelSchemas.delete }, async (request, reply) => {
    await models.deleteModel(request.params.id);
    return reply.status(204).send();
  });
}
