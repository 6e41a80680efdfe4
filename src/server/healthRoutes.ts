import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { healthSchemas } from './schemas/native.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal What operators poll: `GET /health` (each published model's state; 503 with status
 * `failed` when one failed to load or does not answer, `loading` while one is loading) and `GET /metrics` (Prometheus).
 */
export function healthRoutes(app: FastifyInstance, context: ServerContext): void {
  const { models } = context;

  app.get('/health', { schema: healthSchemas.health }, async (_request: FastifyRequest, reply: FastifyReply) => {
    const states = await Promise.all(
      (await models.listModels()).map(async (model) => {
        const running = models.running(model.id);
        if (!running) return { id: model.id, state: 'stopped' };
        const status = await running.ask(ModelMessage.Status, null, { timeout: 2_000 }).catch(() => undefined);
        // A model in a host process says whether its host is up, its pid and its restarts.
        const host = status?.host ? { host: { state: status.host.state, pid: status.host.pid, restarts: status.host.restarts } } : {};
        return { id: model.id, state: status?.state ?? 'unresponsive', ...host };
      }),
    );
    // A model whose load failed is not healthy: it answers every request with its load error.
    const failed = states.some((s) => s.state === 'failed' || s.state === 'unresponsive');
    const loading = states.some((s) => s.state === 'loading');
    const status = failed ? 'failed' : loading ? 'loading' : 'ok';
    return reply.status(status === 'ok' ? 200 : 503).send({ status, models: states });
  });

  app.get('/metrics', { schema: healthSchemas.metrics }, async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  );
}
