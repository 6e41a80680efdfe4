import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import type { ServerContext } from './ServerContext.js';

/**
 * @internal What operators poll: `GET /health` (each published model's state; 503 while one is
 * loading or does not answer) and `GET /metrics` (Prometheus).
 */
export function healthRoutes(app: FastifyInstance, context: ServerContext): void {
  const { models } = context;

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
