import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { clientSignal } from './clientSignal.js';
import { ollamaHandler } from './ollamaErrors.js';
import { ollamaGenerate } from './ollamaGenerate.js';
import { ollamaPs, ollamaShow, ollamaTags } from './ollamaModels.js';
import { ollamaBody } from './ollamaRequest.js';
import { UnsupportedParameterError } from './openaiParamErrors.js';
import type { ServerContext } from './ServerContext.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';

/** Embeds `input` (one string or several) with the named model. */
async function embed(context: ServerContext, model: unknown, input: unknown, signal: AbortSignal): Promise<number[][]> {
  if (typeof model !== 'string' || model === '') throw new InvalidArgumentError('model must be a non-empty string');
  if (typeof input !== 'string' && !(Array.isArray(input) && input.every((i) => typeof i === 'string'))) {
    throw new InvalidArgumentError('input must be a string or an array of strings');
  }
  await context.models.getModel(model, { signal });
  const ref = await context.models.ref(model, { signal });
  const result = await ref.ask(ModelMessage.Embed, { input }, { timeout: 120_000, signal });
  return result.embeddings.map((e) => [...e]);
}

/** @internal The Ollama-compatible routes (`/api/*`); errors answer as Ollama's `{error}`. */
export function ollamaRoutes(app: FastifyInstance, context: ServerContext): void {
  app.get('/api/version', ollamaHandler(async () => ({ version: VERSION })));
  app.get('/api/tags', ollamaHandler((request) => ollamaTags(context, request)));
  app.get('/api/ps', ollamaHandler((request) => ollamaPs(context, request)));
  app.post('/api/show', ollamaHandler((request) => ollamaShow(context, request)));
  app.post('/api/chat', ollamaHandler((request, reply) => ollamaGenerate(context, request, reply, 'chat')));
  app.post('/api/generate', ollamaHandler((request, reply) => ollamaGenerate(context, request, reply, 'generate')));
  app.post(
    '/api/embed',
    ollamaHandler(async (request) => {
      const body = ollamaBody(request.body);
      if (body.dimensions !== undefined && body.dimensions !== null) throw new UnsupportedParameterError('dimensions', 'llama.cpp models cannot shorten their vectors');
      return { model: body.model, embeddings: await embed(context, body.model, body.input, clientSignal(request)) };
    }),
  );
  app.post(
    '/api/embeddings',
    ollamaHandler(async (request) => {
      const body = ollamaBody(request.body);
      if (typeof body.prompt !== 'string') throw new InvalidArgumentError('prompt must be a string');
      const [embedding] = await embed(context, body.model, body.prompt, clientSignal(request));
      return { embedding };
    }),
  );
}
