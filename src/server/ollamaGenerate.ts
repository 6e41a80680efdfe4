import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChatMessage, GenerateRequest, ToolCall } from '../actors/ModelActor/types.js';
import { FinishReason, StreamEventType } from '../messaging/TokenStreamEvent.js';
import { clientSignal } from './clientSignal.js';
import { finishReason } from './openaiChoices.js';
import { generateInput, ollamaBody, ollamaMessages, ollamaParams, refuseUnsupported, streamed } from './ollamaRequest.js';
import { pipeNdjson } from './ollamaNdjson.js';
import { ollamaToolCalls } from './ollamaTools.js';
import { openAiTools } from './openaiTools.js';
import type { ServerContext } from './ServerContext.js';

/** `/api/chat` answers with `message`, `/api/generate` with `response`. */
export type OllamaKind = 'chat' | 'generate';

/** The payload of one piece of text, by route. */
function text(kind: OllamaKind, content: string) {
  return kind === 'chat' ? { message: { role: 'assistant', content } } : { response: content };
}

/** A chat message with the calls the model made, in Ollama's shape. */
function withCalls(kind: OllamaKind, content: string, calls: readonly ToolCall[] | undefined) {
  if (kind !== 'chat' || !calls || calls.length === 0) return {};
  return { message: { role: 'assistant', content, tool_calls: ollamaToolCalls(calls) } };
}

/** The final fields of an Ollama answer (durations in ns). */
function doneFields(reason: string | undefined, usage: { promptTokens?: number; completionTokens?: number } | undefined, started: bigint, firstToken: bigint | undefined) {
  const now = process.hrtime.bigint();
  const first = firstToken ?? now;
  return {
    done: true,
    // Ollama ends a reply that calls tools with done_reason stop.
    done_reason: reason === FinishReason.ToolCalls ? 'stop' : finishReason(reason),
    total_duration: Number(now - started),
    load_duration: 0,
    prompt_eval_count: usage?.promptTokens ?? 0,
    prompt_eval_duration: Number(first - started),
    eval_count: usage?.completionTokens ?? 0,
    eval_duration: Number(now - first),
  };
}

/**
 * @internal Serves `/api/chat` and `/api/generate`: NDJSON lines by default (`stream` is true unless
 * false), one object with `stream: false`. The client leaving aborts the generation.
 */
export async function ollamaGenerate(context: ServerContext, request: FastifyRequest, reply: FastifyReply, kind: OllamaKind): Promise<unknown> {
  const started = process.hrtime.bigint();
  const body = ollamaBody(request.body);
  const model = body.model as string; // a non-empty string: the route schema
  refuseUnsupported(body, kind);
  const signal = clientSignal(request);
  const input: { prompt: string } | { messages: ChatMessage[] } = kind === 'chat' ? { messages: ollamaMessages(body) } : generateInput(body);
  const params = ollamaParams(body);
  await context.models.getModel(model, { signal }); // 404 for an unknown model
  const created_at = (): string => new Date().toISOString();
  if ('messages' in input ? input.messages.length === 0 : input.prompt === '') {
    // Ollama's "load the model" request: no messages or an empty prompt loads it and answers done.
    await context.models.ref(model, { signal });
    const loaded = { model, created_at: created_at(), ...text(kind, ''), done: true, done_reason: 'load' };
    return streamed(body) ? reply.type('application/x-ndjson').send(`${JSON.stringify(loaded)}\n`) : reply.send(loaded);
  }
  // Ollama has no tool_choice: the model decides (auto).
  const tools = kind === 'chat' && Array.isArray(body.tools) && body.tools.length > 0 ? openAiTools({ tools: body.tools }) : {};
  const generate: GenerateRequest = { ...input, params, ...tools };
  const { stream } = await context.models.openGeneration(model, generate, { signal });
  let firstToken: bigint | undefined;
  if (!streamed(body)) {
    let usage: { promptTokens?: number; completionTokens?: number } | undefined;
    stream.subscribe((event) => {
      if (event.type === StreamEventType.Token) firstToken ??= process.hrtime.bigint();
      else if (event.type === StreamEventType.Done) usage = event.usage;
    });
    try {
      const result = await stream;
      context.metrics.generation(model, result);
      const message = { ...text(kind, result.text), ...withCalls(kind, result.text, result.data?.toolCalls) };
      return reply.send({ model, created_at: created_at(), ...message, ...doneFields(result.finishReason, usage, started, firstToken) });
    } catch (error) {
      stream.cancel();
      throw error;
    }
  }
  await pipeNdjson(reply, stream, {
    signal,
    writeTimeoutMs: context.writeTimeoutMs,
    onEvent: async (out, event) => {
      if (event.type === StreamEventType.Token) {
        firstToken ??= process.hrtime.bigint();
        if (event.content) await out.send({ model, created_at: created_at(), ...text(kind, event.content), done: false });
      } else if (event.type === StreamEventType.Done) {
        // Ollama sends a reply's calls whole, in a chunk of their own before the last one.
        const calls = event.data?.toolCalls;
        if (calls && calls.length > 0) await out.send({ model, created_at: created_at(), ...withCalls(kind, '', calls), done: false });
        await out.send({ model, created_at: created_at(), ...text(kind, ''), ...doneFields(event.finishReason, event.usage, started, firstToken) });
      } else if (event.type === StreamEventType.Error) {
        await out.send({ error: stream.stats.error?.message ?? event.error ?? 'generation failed' });
      }
    },
  });
  context.metrics.generation(model, stream.stats);
  return reply;
}
