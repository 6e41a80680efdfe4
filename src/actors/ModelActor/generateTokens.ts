import { LlamaGrammarEvaluationState, type LlamaGrammar, type Token } from 'node-llama-cpp';
import type { Clock } from '../../messaging/Clock.js';
import { InvalidArgumentError } from '../../messaging/errors.js';
import { FinishReason } from '../../messaging/TokenStreamEvent.js';
import { promptTokens } from './chatPrompt.js';
import type { LoadedModel } from './LoadedModel.js';
import { PromptTooLongError } from './modelErrors.js';
import { NativeSlot } from './native/NativeSlot.js';
import type { NativeToken } from './native/types.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import { type ResolvedGenerationParams, resolveGenerationParams, resolveTopLogprobs } from './resolveGenerationParams.js';
import { evaluateOptions, nativeSampling } from './samplingOptions.js';
import type { SlotLease, SlotRequest } from './SlotLease.js';
import type { Throughput } from './Throughput.js';
import { TokenTextDecoder } from './TokenTextDecoder.js';
import { nodeLlamaTopLogprobs, topLogprobTexts } from './topLogprobs.js';
import type { AppliedAdapter, GenerateRequest, GenerationParams, GenerationUsage } from './types.js';

/** @internal One token of a running generation, as the generator yields it. */
export interface GeneratedToken {
  text: string;
  /** Undefined only for the text-only event that releases held-back text at the end. */
  tokenId: Token | undefined;
  logprob: number | undefined;
  tokensPerSecond: number;
  /** The most likely tokens at this step, when the request asked for `topLogprobs`. */
  topLogprobs?: Array<{ tokenId: number; text: string; logprob: number }>;
}

/** @internal How a generation ended, the generator's return value. */
export interface GenerationEnd {
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
}

/** @internal What a generation needs of its model. */
export interface GenerationEnvironment {
  loaded: LoadedModel;
  defaultParams: GenerationParams | undefined;
  /** The model's adapter set now, for requests that name none. */
  defaultAdapters: () => readonly AppliedAdapter[];
  clock: Clock;
  throughput: Throughput;
  grammar: (schema: object) => Promise<LlamaGrammar>;
  /** The request's signal joined with the model's unload. */
  signal: (request: AbortSignal) => AbortSignal;
  leaseSlot: (request: SlotRequest) => Promise<SlotLease>;
}

/** @internal Who asks: the message's sender and its abort signal. */
export interface GenerationCaller {
  from: string | undefined;
  signal: AbortSignal;
  /** When the request was admitted (its time to first token counts from here). */
  admittedAt: number;
}

/** A checked request, ready to wait for a slot. */
interface GenerationPlan {
  params: ResolvedGenerationParams;
  prompt: Token[];
  grammar: LlamaGrammar | undefined;
  adapters: readonly AppliedAdapter[];
  /** The request's `maxTokens`, bounded by the context left after the prompt. */
  maxTokens: number;
}

/**
 * @internal One generation: validates, waits for a slot (fairly), evaluates the prompt and yields
 * tokens; the slot lease is given back whatever ended it (the last token, an error, an abort or
 * the consumer leaving). Aborting stops it within one token.
 */
export async function* generateTokens(
  environment: GenerationEnvironment,
  request: GenerateRequest,
  caller: GenerationCaller,
): AsyncGenerator<GeneratedToken, GenerationEnd> {
  const { clock } = environment;
  const plan = await planGeneration(environment, request);
  const signal = environment.signal(caller.signal);
  const fairnessKey = request.fairnessKey ?? request.session ?? caller.from ?? 'anonymous';
  const queuedAt = clock.now();
  await using lease = await environment.leaseSlot({ adapters: plan.adapters, fairnessKey, signal, session: request.session, prompt: plan.prompt });
  const queueMs = clock.now() - queuedAt;
  const { evaluate, cached } = await lease.prepare(plan.prompt);
  const progress = new GenerationProgress();
  const finishReason = yield* decode(environment, request, plan, { slot: lease.slot, evaluate, signal, progress });
  environment.throughput.completed++;
  return {
    text: progress.text,
    finishReason,
    usage: {
      promptTokens: plan.prompt.length,
      completionTokens: progress.generated.length,
      totalTokens: plan.prompt.length + progress.generated.length,
      timeToFirstTokenMs: progress.firstTokenAt === undefined ? undefined : progress.firstTokenAt - caller.admittedAt,
      tokensPerSecond: progress.rate(),
      queueMs,
      cachedPromptTokens: cached,
    },
  };
}

/** Checks the request and resolves what it asks for, in the order its errors are reported. */
async function planGeneration(environment: GenerationEnvironment, request: GenerateRequest): Promise<GenerationPlan> {
  const { loaded } = environment;
  if (typeof request !== 'object' || request === null) {
    throw new InvalidArgumentError(`generate needs { prompt } or { messages }, got ${JSON.stringify(request)}`);
  }
  const params = resolveGenerationParams(environment.defaultParams, request.params, loaded.info.vocabularySize);
  resolveTopLogprobs(request.topLogprobs);
  const prompt = promptTokens(loaded, request);
  const contextSize = loaded.info.contextSize;
  const minFree = request.minFreeTokens ?? 1;
  if (!Number.isInteger(minFree) || minFree < 1) {
    throw new InvalidArgumentError(`minFreeTokens must be a positive integer, got ${String(minFree)}`);
  }
  if (prompt.length + minFree > contextSize) throw new PromptTooLongError(prompt.length, contextSize, minFree);
  const grammar = params.jsonSchema ? await environment.grammar(params.jsonSchema) : undefined;
  const adapters = request.adapters === undefined ? environment.defaultAdapters() : resolveAdapterSpecs(request.adapters);
  return { params, prompt, grammar, adapters, maxTokens: Math.min(params.maxTokens, contextSize - prompt.length) };
}

/** Tokens and timing of one running generation. */
class GenerationProgress {
  readonly generated: Token[] = [];
  text = '';
  firstTokenAt: number | undefined;
  private lastTokenAt = 0;

  add(token: Token, now: number): void {
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
    this.generated.push(token);
  }

  /** Decode rate: tokens after the first over the time since the first. */
  rate(): number {
    const { generated, firstTokenAt, lastTokenAt } = this;
    return generated.length > 1 && firstTokenAt !== undefined && lastTokenAt > firstTokenAt
      ? ((generated.length - 1) * 1000) / (lastTokenAt - firstTokenAt)
      : 0;
  }
}

/** The leased slot's part of a generation. */
interface DecodeRun {
  slot: SlotLease['slot'];
  /** Prompt tokens not in the slot's KV cache. */
  evaluate: Token[];
  signal: AbortSignal;
  progress: GenerationProgress;
}

/** Evaluates the prompt's rest and yields generated tokens as text; returns why it stopped. */
async function* decode(
  environment: GenerationEnvironment,
  request: GenerateRequest,
  plan: GenerationPlan,
  run: DecodeRun,
): AsyncGenerator<GeneratedToken, FinishReason> {
  const { signal, progress } = run;
  const decoder = new TokenTextDecoder(environment.loaded.model, plan.params.stop, plan.prompt);
  let finishReason: FinishReason = FinishReason.Stop;
  for await (const output of await evaluation(environment, request, plan, run)) {
    // The signal is checked as each token arrives: aborting stops within one token, and
    // leaving the loop ends the evaluation cleanly; the sequence itself is never disposed.
    if (signal.aborted) {
      finishReason = FinishReason.Cancelled;
      break;
    }
    const now = environment.clock.now();
    // The native engine's ids are plain numbers of the same vocabulary.
    const token = output.token as Token;
    progress.add(token, now);
    environment.throughput.countToken(now);
    const piece = decoder.push(token);
    progress.text += piece.text;
    const logprob = output.confidence === undefined ? undefined : Math.log(output.confidence);
    const topLogprobs = topLogprobTexts(environment.loaded.model, output.topLogprobs, plan.prompt, progress.generated);
    yield { text: piece.text, tokenId: token, logprob, tokensPerSecond: progress.rate(), ...(topLogprobs ? { topLogprobs } : {}) };
    if (piece.stopped) {
      finishReason = FinishReason.StopSequence;
      break;
    }
    if (progress.generated.length >= plan.maxTokens) {
      finishReason = FinishReason.Length;
      break;
    }
  }
  if (finishReason !== FinishReason.StopSequence && finishReason !== FinishReason.Cancelled) {
    const rest = decoder.flush();
    if (rest) {
      progress.text += rest;
      // Text held back for a stop string that never completed: released as a text-only event.
      yield { text: rest, tokenId: undefined, logprob: undefined, tokensPerSecond: progress.rate() };
    }
  }
  return signal.aborted ? FinishReason.Cancelled : finishReason;
}

/** The slot's token stream: the native engine's, or node-llama-cpp's with its sampling options. */
async function evaluation(
  environment: GenerationEnvironment,
  request: GenerateRequest,
  plan: GenerationPlan,
  run: DecodeRun,
): Promise<AsyncIterable<NativeToken>> {
  const { slot, evaluate, signal } = run;
  const { params, grammar } = plan;
  const confidence = request.logprobs === true;
  const top = request.topLogprobs ?? 0;
  if (slot instanceof NativeSlot) return slot.evaluate(evaluate, nativeSampling(params, grammar, confidence, plan.maxTokens, top), signal);
  const grammarState = grammar ? new LlamaGrammarEvaluationState({ model: await environment.loaded.weights(), grammar }) : undefined;
  const outputs = slot.evaluateWithMetadata(evaluate, { confidence, probabilities: top > 0 }, evaluateOptions(params, run.progress.generated, grammarState, slot.model));
  return top > 0 ? nodeLlamaTopLogprobs(outputs, top) : outputs;
}
