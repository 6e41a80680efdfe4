import type { FastifyInstance } from 'fastify';
import type { ModelLoadOptions } from '../entities/types.js';
import { address } from '../messaging/address.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { asObject } from './asObject.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal Model publishing: `POST /models` `{id, provider, path, load?}`, the model file confined
 * to the model directories. (A model's adapters are `adapterRoutes`.)
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
    const published = await models.publishModel({
      id: body.id,
      provider: address(body.provider.replace(/^@\((.*)\)$/, '$1')),
      path,
      ...(load !== undefined ? { load: load as ModelLoadOptions } : {}),
    });
    return reply.status(201).send({ address: published });
  });
}
