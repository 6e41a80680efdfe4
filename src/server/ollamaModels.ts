import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import { type ModelInfo, ModelMessage } from '../actors/ModelActor/types.js';
import type { ModelEntity } from '../entities/types.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { clientSignal } from './clientSignal.js';
import { ollamaBody } from './ollamaRequest.js';
import type { ServerContext } from './ServerContext.js';

/** `details` of an Ollama model: family and parameter size are known once the model runs (else empty). */
function details(info: ModelInfo | undefined) {
  return {
    parent_model: '',
    format: 'gguf',
    family: info?.architecture ?? '',
    families: info?.architecture ? [info.architecture] : null,
    parameter_size: info?.parameters === undefined ? '' : parameterSize(info.parameters),
    // Not read from the GGUF header: unknown here.
    quantization_level: '',
  };
}

function parameterSize(parameters: number): string {
  if (parameters >= 1e9) return `${(parameters / 1e9).toFixed(1)}B`;
  if (parameters >= 1e6) return `${(parameters / 1e6).toFixed(1)}M`;
  return `${parameters}`;
}

/** The info of a model already running (nothing is started for a listing), else undefined. */
async function runningInfo(context: ServerContext, id: string): Promise<ModelInfo | undefined> {
  const ref = context.models.running(id);
  if (!ref) return undefined;
  try {
    return await ref.ask(ModelMessage.Info, null, { timeout: 5_000 });
  } catch {
    return undefined; // still loading, or failed: list it without its details
  }
}

/** What a model is made from: its GGUF file, or the remote model it stands for (`<base URL>#<name>`). */
function modelSource(model: ModelEntity): string {
  return model.path ?? `${String(model.remote?.model ?? '')}@${String(model.provider)}`;
}

/** One model as `/api/tags` and `/api/ps` list it. `digest` identifies the file version (path, size, mtime), not its content hash. */
async function listed(context: ServerContext, model: ModelEntity) {
  const source = modelSource(model);
  const file = model.path === undefined ? undefined : await stat(model.path).catch(() => undefined);
  const info = await runningInfo(context, model.id);
  const digest = createHash('sha256').update(`${source}\0${file?.size ?? 0}\0${file?.mtimeMs ?? 0}`).digest('hex');
  return {
    name: model.id,
    model: model.id,
    modified_at: new Date(file?.mtimeMs ?? 0).toISOString(),
    size: file?.size ?? 0,
    digest,
    details: details(info),
  };
}

/** @internal `GET /api/tags`: every published model. */
export async function ollamaTags(context: ServerContext, request: FastifyRequest) {
  const models = await context.models.listModels({ signal: clientSignal(request) });
  return { models: await Promise.all(models.map((m) => listed(context, m))) };
}

/** @internal `GET /api/ps`: the models running now. */
export async function ollamaPs(context: ServerContext, request: FastifyRequest) {
  const models = (await context.models.listModels({ signal: clientSignal(request) })).filter((m) => context.models.running(m.id));
  const entries = await Promise.all(models.map((m) => listed(context, m)));
  // Models stay loaded until unpublished or the server stops: no expiry.
  return { models: entries.map((m) => ({ ...m, expires_at: '0001-01-01T00:00:00Z', size_vram: 0 })) };
}

/** @internal `POST /api/show` (`{model}`, or the older `{name}`): the model's template, details and info; starts it. */
export async function ollamaShow(context: ServerContext, request: FastifyRequest) {
  const body = ollamaBody(request.body);
  const id = body.model ?? body.name;
  if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('model must be a non-empty string');
  const signal = clientSignal(request);
  const model = await context.models.getModel(id, { signal });
  const info = await (await context.models.ref(id, { signal })).ask(ModelMessage.Info, null, { timeout: 120_000, signal });
  const arch = info.architecture ?? 'unknown';
  return {
    modelfile: `FROM ${modelSource(model)}\n`,
    parameters: '',
    template: info.chatTemplate,
    details: details(info),
    model_info: {
      'general.architecture': arch,
      ...(info.name === undefined ? {} : { 'general.name': info.name }),
      ...(info.parameters === undefined ? {} : { 'general.parameter_count': info.parameters }),
      [`${arch}.context_length`]: info.trainContextSize,
      [`${arch}.embedding_length`]: info.embeddingSize,
      'tokenizer.ggml.vocab_size': info.vocabularySize,
    },
    capabilities: ['completion', 'embedding'],
    modified_at: new Date((model.path === undefined ? undefined : await stat(model.path).catch(() => undefined))?.mtimeMs ?? 0).toISOString(),
  };
}
