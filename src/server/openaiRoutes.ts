import type { FastifyInstance } from 'fastify';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { clientSignal } from './clientSignal.js';
import { UnsupportedDimensionsError } from './embeddingErrors.js';
import { modelId, openAiBody } from './openaiCompletionRequest.js';
import { complete } from './openaiCompletions.js';
import { openaiResponsesRoutes } from './openaiResponses.js';
import { chatCompletionsSchema, completionsSchema, embeddingsSchema, modelSchema, modelsSchema } from './schemas/openai.js';
import type { ServerContext } from './ServerContext.js';

/** The OpenAI model object of a published model. */
function openAiModel(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'llama-actors' };
}

/**
 * An embedding as OpenAI's `encoding_format: 'base64'` sends it (the official clients' default):
 * the vector's float32 values, little-endian, base64-encoded.
 */
function float32Base64(embedding: readonly number[]): string {
  const bytes = Buffer.alloc(embedding.length * 4);
  embedding.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

/** @internal The OpenAI-compatible routes. */
export function openaiRoutes(app: FastifyInstance, context: ServerContext): void {
  app.post('/v1/chat/completions', { schema: chatCompletionsSchema }, (request, reply) => complete(context, request, reply, 'chat'));
  app.post('/v1/completions', { schema: completionsSchema }, (request, reply) => complete(context, request, reply, 'text'));
  openaiResponsesRoutes(app, context);

  app.post('/v1/embeddings', { schema: embeddingsSchema }, async (request, reply) => {
    const body = openAiBody(request.body);
    const signal = clientSignal(request);
    await context.models.getModel(modelId(body), { signal });
    const model = await context.models.ref(modelId(body), { signal });
    // Shapes checked by embeddingsSchema: input a string or strings, encoding_format, dimensions a positive integer.
    const input = body.input as string | string[];
    const format = body.encoding_format ?? 'float';
    const dimensions = (body.dimensions ?? undefined) as number | undefined;
    if (dimensions !== undefined) {
      const { embeddingSize } = await model.ask(ModelMessage.Info, null, { timeout: 120_000, signal });
      if (dimensions !== embeddingSize) throw new UnsupportedDimensionsError(dimensions, embeddingSize);
    }
    const result = await model.ask(ModelMessage.Embed, { input }, { timeout: 120_000, signal });
    return reply.send({
      object: 'list',
      model: modelId(body),
      data: result.embeddings.map((embedding, index) => ({
        object: 'embedding',
        index,
        embedding: format === 'base64' ? float32Base64(embedding) : embedding,
      })),
      usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
    });
  });

  app.get('/v1/models', { schema: modelsSchema }, async () => {
    const models = await context.models.listModels();
    return {
      object: 'list',
      data: models.map((m) => openAiModel(m.id)),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/models/:id', { schema: modelSchema }, async (request) => {
    const model = await context.models.getModel(request.params.id, { signal: clientSignal(request) });
    return openAiModel(model.id);
  });
}
