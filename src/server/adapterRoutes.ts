import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TunerMessage } from '../actors/TunerActor/types.js';
import type { Address } from '../messaging/address.js';
import { clientSignal } from './clientSignal.js';
import { confinedPath, confinePayloadPaths } from './confinedPath.js';
import { asObject } from './asObject.js';
import { pipeEvents } from './pipeEvents.js';
import { adapterSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

type Params = { Params: { id: string } };

/**
 * @internal Adapter management and evaluation for each published model, through the model's
 * TunerActor (started on first use). Adapter paths must lie inside the configured directories.
 *
 * - `GET /models/:id/adapters`: the adapter set and the contexts serving adapter sets
 * - `POST /models/:id/adapters` `{path, scale?}`: validate and apply
 * - `PATCH /models/:id/adapters` `{path, scale}`: change a scale
 * - `DELETE /models/:id/adapters` `{path?}` (or `?path=`): remove one, or all
 * - `POST /models/:id/adapters/validate` `{path}`: check an adapter against the model
 * - `POST /models/:id/evaluate` `{examples, adapters?, stream?}`: perplexity and loss (SSE progress unless `stream: false`)
 */
export function adapterRoutes(app: FastifyInstance, context: ServerContext): void {
  const { router, models } = context;
  const tuner = async (request: FastifyRequest<Params>): Promise<Address> => {
    await models.getModel(request.params.id); // 404 for anything that is not a published model
    return models.ensureTuner(request.params.id);
  };
  const adapterPath = (path: unknown): Promise<string> => confinedPath(context.adapterDirs, path, 'adapter');
  const timeout = (request: FastifyRequest) => ({ timeout: 600_000, signal: clientSignal(request) });

  app.get<Params>('/models/:id/adapters', { schema: adapterSchemas.list }, async (request) => router.ask(await tuner(request), TunerMessage.ListAdapters, {}, timeout(request)));

  app.post<Params>('/models/:id/adapters', { schema: adapterSchemas.apply }, async (request) => {
    const body = asObject(request.body);
    const payload = { path: await adapterPath(body.path), ...(body.scale === undefined ? {} : { scale: body.scale }) };
    return router.ask(await tuner(request), TunerMessage.ApplyAdapter, payload, timeout(request));
  });

  app.patch<Params>('/models/:id/adapters', { schema: adapterSchemas.rescale }, async (request) => {
    const body = asObject(request.body); // { path, scale: number } (the schema)
    return router.ask(await tuner(request), TunerMessage.SetAdapterScale, { path: await adapterPath(body.path), scale: body.scale }, timeout(request));
  });

  app.delete<Params & { Querystring: { path?: string } }>('/models/:id/adapters', { schema: adapterSchemas.remove }, async (request) => {
    const body = asObject(request.body);
    const path = body.path ?? request.query.path;
    return router.ask(await tuner(request), TunerMessage.RemoveAdapter, path === undefined ? {} : { path: await adapterPath(path) }, timeout(request));
  });

  app.post<Params>('/models/:id/adapters/validate', { schema: adapterSchemas.validate }, async (request) => {
    const body = asObject(request.body);
    return router.ask(await tuner(request), TunerMessage.ValidateAdapter, { path: await adapterPath(body.path) }, timeout(request));
  });

  app.post<Params>('/models/:id/evaluate', { schema: adapterSchemas.evaluate }, async (request, reply) => {
    const body = asObject(request.body);
    const requested = {
      examples: body.examples,
      ...(body.adapters === undefined ? {} : { adapters: body.adapters }),
      ...(body.adapter === undefined ? {} : { adapter: body.adapter }),
      ...(body.method === undefined ? {} : { method: body.method }),
    };
    const payload = await confinePayloadPaths(context.adapterDirs, requested);
    const address = await tuner(request);
    if (body.stream === false) {
      return router.ask(address, TunerMessage.Evaluate, payload, { timeout: Number.POSITIVE_INFINITY, signal: clientSignal(request) });
    }
    return pipeEvents(context, request, reply, (signal) => router.stream(address, TunerMessage.Evaluate, payload, { signal }));
  });
}
