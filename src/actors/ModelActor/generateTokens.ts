import type { LlamaGrammar, Token } from 'node-llama-cpp';
import type { Clock } from '../../messaging/Clock.js';
import { InvalidArgumentError } from '../../messaging/errors.js';
import type { FinishReason, ToolCallDelta } from '../../messaging/TokenStreamEvent.js';
import { promptTokens } from './chatPrompt.js';
import { decodePhase, type GenerationRun } from './decodePhase.js';
import { GenerationProgress } from './GenerationProgress.js';
import type { LoadedModel } from './LoadedModel.js';
import { PromptTooLongError } from './modelErrors.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import { type ResolvedGenerationParams, resolveGenerationParams, resolveTopLogprobs } from './resolveGenerationParams.js';
import type { SlotLease, SlotRequest } from './SlotLease.js';
import type { Throughput } from './Throughput.js';
import { generateToolCalls } from './tools/generateToolCalls.js';
import { planTools, type ToolPlan } from './tools/planTools.js';
import { ToolCallSyntax } from './tools/ToolCallSyntax.js';
import type { AppliedAdapter, CountPromptTokensRequest, GenerateRequest, GenerationParams, GenerationUsage, ToolCall } from './types.js';

/** @internal One token of a running generation, as the generator yields it. */
export interface GeneratedToken {
  text: string;
  /** Undefined only for the text-only event that releases held-back text at the end, and a call's first piece. */
  tokenId: Token | undefined;
  logprob: number | undefined;
  tokensPerSecond: number;
  /** Set when the token is part of a tool call (its `text` is then `''`). */
  toolCall?: ToolCallDelta;
  /** The most likely tokens at this step, when the request asked for `topLogprobs`. */
  topLogprobs?: Array<{ tokenId: number; text: string; logprob: number }>;
}

/** @internal How a generation ended, the generator's return value. */
export interface GenerationEnd {
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
  /** The complete calls the model made, when it made any. */
  toolCalls?: ToolCall[];
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
  /** A grammar from GBNF text (root rule `root`). */
  gbnf: (text: string) => Promise<LlamaGrammar>;
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
  tools: ToolPlan | undefined;
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
  const progress = new GenerationProgress();
  const run: GenerationRun = { environment, request, params: plan.params, lease, signal, progress, maxTokens: plan.maxTokens };
  let finishReason: FinishReason;
  let toolCalls: ToolCall[] | undefined;
  if (plan.tools) {
    ({ finishReason, toolCalls } = yield* generateToolCalls(run, plan.tools, plan.prompt, plan.grammar));
  } else {
    const phase = decodePhase(run, { sequence: plan.prompt, grammar: plan.grammar, stop: plan.params.stop });
    let step = await phase.next();
    while (!step.done) {
      progress.text += step.value.text;
      yield step.value;
      step = await phase.next();
    }
    finishReason = step.value.finishReason;
  }
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
      cachedPromptTokens: progress.cachedPromptTokens ?? 0,
    },
    ...(toolCalls && toolCalls.length > 0 ? { toolCalls } : {}),
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
  const syntax = new ToolCallSyntax(loaded.chatWrapper.settings.functions);
  const tools = await planTools(request, syntax, { jsonSchema: environment.grammar, gbnf: environment.gbnf });
  if (tools && request.prompt !== undefined) throw new InvalidArgumentError('tools need chat messages, not a raw prompt');
  const prompt = promptTokens(loaded, request, tools?.functions);
  const contextSize = loaded.info.contextSize;
  const minFree = request.minFreeTokens ?? 1;
  if (!Number.isInteger(minFree) || minFree < 1) {
    throw new InvalidArgumentError(`minFreeTokens must be a positive integer, got ${String(minFree)}`);
  }
  if (prompt.length + minFree > contextSize) throw new PromptTooLongError(prompt.length, contextSize, minFree);
  const grammar = params.jsonSchema ? await environment.grammar(params.jsonSchema) : undefined;
  const adapters = request.adapters === undefined ? environment.defaultAdapters() : resolveAdapterSpecs(request.adapters);
  return { params, prompt, grammar, adapters, maxTokens: Math.min(params.maxTokens, contextSize - prompt.length), tools };
}

/** @internal The prompt's length in tokens, formatted as {@link generateTokens} formats it. */
export async function countPromptTokens(environment: GenerationEnvironment, request: CountPromptTokensRequest): Promise<{ promptTokens: number }> {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError(`countPromptTokens needs { prompt } or { messages }, got ${JSON.stringify(request)}`);
  const syntax = new ToolCallSyntax(environment.loaded.chatWrapper.settings.functions);
  const tools = await planTools(request, syntax, { jsonSchema: environment.grammar, gbnf: environment.gbnf });
  return { promptTokens: promptTokens(environment.loaded, request, tools?.functions).length };
}
