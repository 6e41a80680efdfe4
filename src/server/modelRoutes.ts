import type { FastifyInstance } from 'fastify';
import type { ModelLoadOptions, RemoteModelSpec } from '../entities/types.js';
import { address } from '../messaging/address.js';
import { asObject, type Body } from './asObject.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import { modelSchemas, providerSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal Providers and models: `POST /providers` `{id, kind, settings?}` publishes a provider
 * (`openai-compatible` settings name the environment variable of the key, never the key: `apiKey` is
 * 400), `GET /providers` lists them; `POST /models` `{id, provider, path, load?}` or `{id, provider,
 * remote: {model, ...}}` creates a model (the
 * file confined to the model directories; an existing id is `ENTITY_EXISTS`, 409, and nothing
 * changes), `DELETE /models/:id` unloads and forgets one (204; generations in flight end with
 * `ACTOR_STOPPED`; unknown id: 404). (A model's adapters are `adapterRoutes`.)
 */
export function modelRoutes(app: FastifyInstance, context: ServerContext): void {
  const { models } = context;

  app.post('/providers', { schema: providerSchemas.create }, async (request, reply) => {
    const body = asObject(request.body) as Body & { id: string; kind: string; settings?: Record<string, unknown> }; // shapes checked by the schema
    const published = await models.createProvider({ id: body.id, kind: body.kind, ...(body.settings ? { settings: body.settings } : {}) });
    return reply.status(201).send({ address: published });
  });

  app.get('/providers', { schema: providerSchemas.list }, async () => ({ providers: await models.listProviders() }));

  app.post('/models', { schema: modelSchemas.create }, async (request, reply) => {
    const body = asObject(request.body) as Body & { id: string; provider: string; remote?: RemoteModelSpec }; // id, provider and path or remote required by the schema
    const provider = address(body.provider.replace(/^@\((.*)\)$/, '$1'));
    if (body.remote !== undefined) {
      // A remote provider's model has no file here: nothing to confine (the provider refuses a path).
      return reply.status(201).send({ address: await models.createModel({ id: body.id, provider, remote: body.remote }) });
    }
    const path = await confinedPath(context.modelDirs, body.path, 'model');
    // Load options may name adapters the model starts with: the same directories apply.
    const load = await confinePayloadPaths(context.adapterDirs, body.load);
    const published = await models.createModel({
      id: body.id,
      provider,
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
