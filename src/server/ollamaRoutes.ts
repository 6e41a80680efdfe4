import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { clientSignal } from './clientSignal.js';
import { ollamaErrorHandler, ollamaHandler } from './ollamaErrors.js';
import { ollamaGenerate } from './ollamaGenerate.js';
import { ollamaPs, ollamaShow, ollamaTags } from './ollamaModels.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import type { RouteSchema } from './schemas/validation.js';
import { chatSchema, embeddingsSchema, embedSchema, generateSchema, psSchema, showSchema, tagsSchema, versionSchema } from './schemas/ollama.js';
import type { ServerContext } from './ServerContext.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';

/** Embeds `input` (one string or several: the route schemas check it) with the named model. */
async function embed(context: ServerContext, model: string, input: string | string[], signal: AbortSignal): Promise<number[][]> {
  await context.models.getModel(model, { signal });
  const ref = await context.models.ref(model, { signal });
  const result = await ref.ask(ModelMessage.Embed, { input }, { timeout: 120_000, signal });
  return result.embeddings.map((e) => [...e]);
}

/** @internal The Ollama-compatible routes (`/api/*`); errors, schema mismatches included, answer as Ollama's `{error}`. */
export function ollamaRoutes(app: FastifyInstance, context: ServerContext): void {
  const options = (schema: RouteSchema) => ({ schema, errorHandler: ollamaErrorHandler });
  app.get('/api/version', options(versionSchema), ollamaHandler(async () => ({ version: VERSION })));
  app.get('/api/tags', options(tagsSchema), ollamaHandler((request) => ollamaTags(context, request)));
  app.get('/api/ps', options(psSchema), ollamaHandler((request) => ollamaPs(context, request)));
  app.post('/api/show', options(showSchema), ollamaHandler((request) => ollamaShow(context, request)));
  app.post('/api/chat', options(chatSchema), ollamaHandler((request, reply) => ollamaGenerate(context, request, reply, 'chat')));
  app.post('/api/generate', options(generateSchema), ollamaHandler((request, reply) => ollamaGenerate(context, request, reply, 'generate')));
  app.post(
    '/api/embed',
    options(embedSchema),
    ollamaHandler(async (request) => {
      const body = request.body as { model: string; input: string | string[]; dimensions?: unknown };
      if (body.dimensions !== undefined && body.dimensions !== null) throw new UnsupportedParameterError('dimensions', 'llama.cpp models cannot shorten their vectors');
      return { model: body.model, embeddings: await embed(context, body.model, body.input, clientSignal(request)) };
    }),
  );
  app.post(
    '/api/embeddings',
    options(embeddingsSchema),
    ollamaHandler(async (request) => {
      const body = request.body as { model: string; prompt: string };
      const [embedding] = await embed(context, body.model, body.prompt, clientSignal(request));
      return { embedding };
    }),
  );
}
