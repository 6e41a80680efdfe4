import type { FastifyReply } from 'fastify';
import type { GenerateStreamShape, GenerationUsage } from '../actors/ModelActor/types.js';
import { ActorError, ErrorCode } from '../messaging/errors.js';
import type { GenerationStream } from '../messaging/GenerationStream.js';
import { StreamEventType, type TokenStreamEvent } from '../messaging/TokenStreamEvent.js';
import { errorBody } from './httpErrors.js';
import { type CompletionAnswer, choicesUsage, finishReason, openAiLogprobs } from './openaiChoices.js';
import { LogprobEntries, mergeStreams, type OpenAiTokenLogprob } from './openaiParams.js';
import { openAiToolCallDelta } from './openaiTools.js';
import { pipeStream } from './pipeStream.js';
import type { ServerContext } from './ServerContext.js';
import { SseWriter } from './SseWriter.js';

/**
 * @internal Streams a completion's choices as OpenAI SSE chunks (`stream: true`), with a usage chunk
 * at the end when `includeUsage`. Errors before the first token are plain HTTP errors; after it, an
 * error chunk ends the stream.
 */
export async function streamedAnswer(
  context: ServerContext,
  reply: FastifyReply,
  generations: GenerationStream<GenerateStreamShape>[],
  signal: AbortSignal,
  answer: CompletionAnswer & { includeUsage: boolean },
): Promise<FastifyReply> {
  const { kind, id, created, model, logprobs, includeUsage } = answer;
  const entries = generations.map(() => new LogprobEntries());
  const textOffsets = generations.map(() => 0);
  const chunk = (index: number, delta: unknown, reason: string | null, entry?: OpenAiTokenLogprob) => {
    let chunkLogprobs: unknown = null;
    if (entry) {
      chunkLogprobs = openAiLogprobs(kind, [entry], textOffsets[index]!);
      textOffsets[index]! += entry.token.length;
    }
    return {
      id,
      object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created,
      model,
      choices: [
        kind === 'chat'
          ? { index, delta, finish_reason: reason, logprobs: chunkLogprobs }
          : { index, text: delta, finish_reason: reason, logprobs: chunkLogprobs },
      ],
    };
  };
  const usages: (Partial<GenerationUsage> | undefined)[] = [];
  let running = generations.length;
  const onEvent = async (sse: SseWriter, index: number, event: TokenStreamEvent<GenerateStreamShape>) => {
    if (event.type === 'token') {
      const entry = logprobs ? entries[index]!.push(event) : undefined;
      if (event.toolCall) await sse.send(chunk(index, { tool_calls: [openAiToolCallDelta(event.toolCall)] }, null));
      else if (event.content) await sse.send(chunk(index, kind === 'chat' ? { content: event.content } : event.content, null, entry));
    } else if (event.type === 'done') {
      usages[index] = event.usage;
      await sse.send(chunk(index, kind === 'chat' ? {} : '', finishReason(event.finishReason)));
      if (--running > 0) return;
      if (includeUsage) await sse.send({ ...chunk(0, kind === 'chat' ? {} : '', null), choices: [], usage: choicesUsage(generations.map((_, i) => usages[i])) });
      await sse.send('[DONE]');
    } else if (event.type === 'error') {
      await sse.send(errorBody(generations[index]!.stats.error));
    }
  };
  const onStart = async (sse: SseWriter) => {
    if (kind === 'chat') for (let index = 0; index < generations.length; index++) await sse.send(chunk(index, { role: 'assistant', content: '' }, null));
  };
  // Errors before the first token are plain HTTP errors (pipeStream throws them); after it, an error chunk ends the stream.
  if (generations.length === 1) {
    const generation = generations[0]!;
    await pipeStream(reply, generation, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent: (sse, event) => onEvent(sse, 0, event) });
    context.metrics.generation(model, generation.stats);
    return reply;
  }
  await pipeChoices(reply, generations, { signal, writeTimeoutMs: context.writeTimeoutMs, onStart, onEvent });
  for (const generation of generations) context.metrics.generation(model, generation.stats);
  return reply;
}

/**
 * Streams several choices' generations as one SSE response, their events interleaved as they come,
 * like {@link pipeStream} for one: an error before any choice's first event is thrown (a plain HTTP
 * error); after that, an error event ends the response. Every stream is cancelled when it ends.
 */
async function pipeChoices<S>(
  reply: FastifyReply,
  streams: GenerationStream<S>[],
  options: {
    signal: AbortSignal;
    writeTimeoutMs: number;
    onStart(sse: SseWriter): Promise<unknown>;
    onEvent(sse: SseWriter, index: number, event: TokenStreamEvent<S>): Promise<unknown>;
  },
): Promise<void> {
  const iterators = streams.map((stream) => stream[Symbol.asyncIterator]());
  const returnAll = () => Promise.all(iterators.map((iterator) => iterator.return?.().catch(() => {})));
  const firsts: IteratorResult<TokenStreamEvent<S>>[] = [];
  try {
    for (const iterator of iterators) firsts.push(await iterator.next());
  } catch (error) {
    await returnAll();
    throw error;
  }
  const failed = firsts.findIndex((step) => !step.done && step.value.type === StreamEventType.Error);
  if (failed >= 0) {
    await returnAll();
    const step = firsts[failed]!.value as TokenStreamEvent<S>;
    throw streams[failed]!.stats.error ?? new ActorError(step.code ?? ErrorCode.ActorFailed, step.error ?? 'stream failed');
  }
  reply.hijack();
  const sse = new SseWriter(reply.raw, { signal: options.signal, writeTimeoutMs: options.writeTimeoutMs });
  // The first events, already read, come first; then the rest of every stream, as it comes.
  const rest = mergeStreams(
    iterators.map((iterator, index): AsyncIterator<TokenStreamEvent<S>> => {
      let first: IteratorResult<TokenStreamEvent<S>> | undefined = firsts[index];
      return {
        next: () => {
          if (first === undefined) return iterator.next();
          const step = first;
          first = undefined;
          return Promise.resolve(step);
        },
        return: async () => iterator.return?.() ?? { done: true, value: undefined },
      };
    }),
  );
  try {
    await options.onStart(sse);
    for await (const { index, event } of rest) {
      if (!sse.open) break;
      await options.onEvent(sse, index, event);
      if (event.type === StreamEventType.Error) break;
    }
  } finally {
    await rest.return(undefined);
    sse.end();
  }
}
