import type OpenAI from 'openai';
import type { Stream } from 'openai/streaming';
import type { Clock } from '../../messaging/Clock.js';
import { AbortedError, ActorError } from '../../messaging/errors.js';
import { FinishReason } from '../../messaging/TokenStreamEvent.js';
import type { GeneratedToken, GenerationEnd } from '../ModelActor/generateTokens.js';
import type { GenerateRequest, GenerationUsage, ToolCall } from '../ModelActor/types.js';
import { type BodyContext, type UpstreamBody, upstreamBody } from './chatBody.js';
import { ProviderTimeoutError, RateLimitedError, type UpstreamOrigin } from './remoteErrors.js';
import type { RequestGate } from './RequestGate.js';
import { upstreamFailure } from './upstreamError.js';

type ChatChunk = OpenAI.Chat.ChatCompletionChunk;
type TextChunk = OpenAI.Completions.Completion;

/** @internal Everything one remote generation needs of its actor. */
export interface RemoteEnvironment extends BodyContext {
  client: OpenAI;
  origin: UpstreamOrigin;
  gate: RequestGate;
  clock: Clock;
  timeoutMs: number;
  maxRetries: number;
  maxRetryDelayMs: number;
  /** Counts for `status`. */
  counters: { requests: number; retries: number; failures: number; completed: number; tokensGenerated: number };
  /** Records a failure for `status.remote.lastError`. */
  failed: (error: ActorError) => void;
}

/**
 * @internal One generation on a remote OpenAI-compatible server, in the shape the local engines
 * produce (a {@link GeneratedToken} per streamed delta, then the {@link GenerationEnd}), so that the
 * ModelActor's replies serve it unchanged. It waits for a place in the model's gate, opens one
 * streaming request (retried only before anything streamed) and closes it in `finally`: a caller
 * that aborts, or stops reading, ends the upstream request at once and frees the remote's slot.
 */
export async function* remoteGeneration(env: RemoteEnvironment, request: GenerateRequest, signal: AbortSignal): AsyncGenerator<GeneratedToken, GenerationEnd> {
  const { chat, body } = await upstreamBody(request, env);
  const queuedAt = env.clock.now();
  using _pass = await env.gate.acquire(signal);
  const startedAt = env.clock.now();
  const stream = await openStream(env, chat, body, signal);
  let text = '';
  let pieces = 0;
  let firstAt: number | undefined;
  let finish: string | null | undefined;
  let usage: OpenAI.Completions.CompletionUsage | undefined;
  const calls: ToolCall[] = [];
  // The client's timeout ends at the response's headers: a remote that then goes silent is caught here.
  const silence = new SilenceWatch(env.clock, env.timeoutMs, () => stream.controller.abort());
  try {
    for await (const chunk of stream) {
      // Only the waits for the remote count as silence, not a slow consumer holding a token.
      silence.pause();
      try {
        // The request's signal ends the fetch too; this stops at the next chunk whatever the transport does.
        if (signal.aborted) break;
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        if (choice.finish_reason) finish = choice.finish_reason;
        for (const token of chunkTokens(choice, chat, calls)) {
          firstAt ??= env.clock.now();
          pieces += 1;
          text += token.text;
          yield { ...token, tokensPerSecond: rate(pieces, firstAt, env.clock.now()) };
        }
      } finally {
        silence.resume();
      }
    }
  } catch (thrown) {
    if (signal.aborted) return cancelled(text, startedAt, queuedAt);
    const { error } = silence.expired
      ? { error: new ProviderTimeoutError(env.origin, env.timeoutMs, true) }
      : upstreamFailure(thrown, env.origin, { signal, timeoutMs: env.timeoutMs, attempts: 1, name: env.name });
    env.counters.failures += 1;
    env.failed(error);
    throw error;
  } finally {
    silence.stop();
    // Ends the HTTP request whether the stream finished, failed or the consumer left: the remote frees its slot.
    stream.controller.abort();
  }
  if (signal.aborted) return cancelled(text, startedAt, queuedAt);
  if (silence.expired) {
    // Aborting the client's stream may end it quietly rather than throw: the end is a timeout either way.
    const error = new ProviderTimeoutError(env.origin, env.timeoutMs, true);
    env.counters.failures += 1;
    env.failed(error);
    throw error;
  }
  const completionTokens = usage?.completion_tokens ?? pieces;
  const now = env.clock.now();
  env.counters.completed += 1;
  env.counters.tokensGenerated += completionTokens;
  const generationUsage: GenerationUsage = {
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens,
    totalTokens: usage?.total_tokens ?? (usage?.prompt_tokens ?? 0) + completionTokens,
    timeToFirstTokenMs: firstAt === undefined ? undefined : firstAt - startedAt,
    tokensPerSecond: firstAt === undefined ? 0 : rate(completionTokens, firstAt, now),
    queueMs: startedAt - queuedAt,
    cachedPromptTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
  };
  return {
    text,
    finishReason: finishReason(finish, calls),
    usage: generationUsage,
    ...(calls.length > 0 ? { toolCalls: calls } : {}),
  };
}

/**
 * Opens the streaming request. A 429, a 502/503 or a remote that cannot be reached is tried again
 * (at most `maxRetries` times) after the remote's `Retry-After` or an exponential backoff, never
 * longer than `maxRetryDelayMs`; the wait ends at once when the caller aborts.
 */
async function openStream(env: RemoteEnvironment, chat: boolean, body: UpstreamBody, signal: AbortSignal): Promise<Stream<ChatChunk | TextChunk>> {
  for (let attempt = 1; ; attempt += 1) {
    env.counters.requests += 1;
    try {
      return await env.client.post<Stream<ChatChunk | TextChunk>>(chat ? '/chat/completions' : '/completions', {
        body,
        stream: true,
        signal,
        timeout: env.timeoutMs,
        maxRetries: 0,
      });
    } catch (thrown) {
      const failure = upstreamFailure(thrown, env.origin, { signal, timeoutMs: env.timeoutMs, attempts: attempt, name: env.name });
      // No answer to a first try is most often a kept-alive connection the remote closed meanwhile:
      // tried again at once on a new one, whatever maxRetries says (the remote never saw the request).
      const stale = failure.noAnswer === true && attempt === 1;
      const delay = failure.retryAfterMs ?? (stale ? 0 : 500 * 2 ** (attempt - 1));
      const tooLong = delay > env.maxRetryDelayMs;
      if (!failure.retryable || (attempt > env.maxRetries && !stale) || tooLong || signal.aborted) {
        if (!signal.aborted) {
          env.counters.failures += 1;
          env.failed(failure.error);
        }
        throw failure.error instanceof RateLimitedError && tooLong
          ? new RateLimitedError(env.origin, attempt, failure.retryAfterMs, `the wait asked for is longer than maxRetryDelayMs ${env.maxRetryDelayMs}`)
          : failure.error;
      }
      env.counters.retries += 1;
      await sleep(env.clock, delay, signal);
    }
  }
}

/** The tokens of one streamed choice: its text, and a piece per tool-call delta (collected into `calls`). */
function chunkTokens(choice: ChatChunk['choices'][number] | TextChunk['choices'][number], chat: boolean, calls: ToolCall[]): Array<Omit<GeneratedToken, 'tokensPerSecond'>> {
  const tokens: Array<Omit<GeneratedToken, 'tokensPerSecond'>> = [];
  if (!chat && 'text' in choice) {
    if (choice.text) tokens.push({ text: choice.text, tokenId: undefined, logprob: choice.logprobs?.token_logprobs?.[0] ?? undefined });
    return tokens;
  }
  if (!('delta' in choice)) return tokens;
  const { delta } = choice;
  if (delta.content) {
    const logprob = choice.logprobs?.content?.[0];
    tokens.push({
      text: delta.content,
      tokenId: undefined,
      logprob: logprob?.logprob,
      ...(logprob?.top_logprobs?.length ? { topLogprobs: logprob.top_logprobs.map((top) => ({ tokenId: -1, text: top.token, logprob: top.logprob })) } : {}),
    });
  }
  for (const piece of delta.tool_calls ?? []) {
    const call = (calls[piece.index] ??= { id: piece.id ?? `call_${piece.index}`, name: '', arguments: '' });
    if (piece.id) call.id = piece.id;
    if (piece.function?.name) call.name += piece.function.name;
    call.arguments += piece.function?.arguments ?? '';
    tokens.push({
      text: '',
      tokenId: undefined,
      logprob: undefined,
      toolCall: {
        index: piece.index,
        ...(piece.id ? { id: piece.id } : {}),
        ...(piece.function?.name ? { name: piece.function.name } : {}),
        arguments: piece.function?.arguments ?? '',
      },
    });
  }
  return tokens;
}

function finishReason(upstream: string | null | undefined, calls: readonly ToolCall[]): FinishReason {
  if (upstream === 'tool_calls' || (upstream === 'stop' && calls.length > 0)) return FinishReason.ToolCalls;
  if (upstream === 'length') return FinishReason.Length;
  return FinishReason.Stop;
}

function cancelled(text: string, startedAt: number, queuedAt: number): GenerationEnd {
  return {
    text,
    finishReason: FinishReason.Cancelled,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0, timeToFirstTokenMs: undefined, tokensPerSecond: 0, queueMs: startedAt - queuedAt, cachedPromptTokens: 0 },
  };
}

/**
 * The longest wait for the remote's next chunk: after `ms` of waiting it fires once (the stream is
 * aborted) and `expired` says why. Paused while a chunk is handled, so a consumer that reads slowly
 * (backpressure) is never taken for a silent remote. One timer for the whole stream, re-armed only
 * when it fires: a chunk costs two assignments, not a timer of its own (this is the per-token path).
 */
class SilenceWatch {
  expired = false;
  private handle: unknown;
  /** When the current wait for the remote began; undefined while a chunk is being handled. */
  private waitingSince: number | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
    private readonly onSilence: () => void,
  ) {
    this.waitingSince = clock.now();
    this.arm(ms);
  }

  pause(): void {
    this.waitingSince = undefined;
  }

  resume(): void {
    this.waitingSince = this.clock.now();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.handle);
  }

  private arm(ms: number): void {
    this.handle = this.clock.setTimeout(() => this.check(), ms);
  }

  private check(): void {
    if (this.stopped) return;
    const waited = this.waitingSince === undefined ? 0 : this.clock.now() - this.waitingSince;
    if (waited < this.ms) {
      this.arm(this.ms - waited);
      return;
    }
    this.expired = true;
    this.onSilence();
  }
}

function rate(tokens: number, firstAt: number, now: number): number {
  const seconds = (now - firstAt) / 1000;
  return seconds > 0 ? tokens / seconds : 0;
}

function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(new AbortedError('waiting to retry the remote', { cause: signal.reason }));
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
