import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp';
import { AbortedError, ActorError, InvalidArgumentError } from '../../messaging/errors.js';
import { ModelLoadError, PromptTooLongError } from './modelErrors.js';
import { NativeSlot } from './native/NativeSlot.js';
import { resolveAdapterSpecs } from './resolveAdapterSpecs.js';
import type { SlotLease, SlotRequest } from './SlotLease.js';
import type { AppliedAdapter, ModelInfo, ScoreRequest, ScoreResult } from './types.js';

/** @internal What scoring needs of its model. */
export interface ScoringEnvironment {
  info: ModelInfo;
  /** Tokens fed per `controlledEvaluate` call (the context's batch size). */
  batchSize: number;
  /** The model's adapter set now, for requests that name none. */
  defaultAdapters: () => readonly AppliedAdapter[];
  /** The request's signal joined with the model's unload. */
  signal: (request: AbortSignal) => AbortSignal;
  leaseSlot: (request: SlotRequest) => Promise<SlotLease>;
}

/** @internal Who asks: the message's sender and its abort signal. */
export interface ScoringCaller {
  from: string | undefined;
  signal: AbortSignal;
}

/** A checked score request. */
interface ScorePlan {
  tokens: Token[];
  /** Indices of the tokens to score. */
  scored: Set<number>;
  method: 'logits' | 'probabilities';
}

/** The leased slot's part of scoring. */
interface ScoreRun {
  /** Tokens not in the slot's KV cache, from the one before the first scored token. */
  evaluate: Token[];
  /** Tokens kept in the KV cache: `evaluate[i]` is token `cached + i`. */
  cached: number;
  signal: AbortSignal;
}

/**
 * @internal Log-probabilities of given tokens under the model (and adapter set), from a slot of
 * that set's context: the native engine scores them itself, node-llama-cpp through
 * `controlledEvaluate` in chunks, so that an abort stops the work within one chunk. The slot's KV
 * cache is reused for a shared prefix like any prompt's.
 */
export async function scoreTokens(environment: ScoringEnvironment, request: ScoreRequest, caller: ScoringCaller): Promise<ScoreResult> {
  const plan = planScore(environment.info, request);
  const first = Math.min(...plan.scored);
  const adapters = request.adapters === undefined ? environment.defaultAdapters() : resolveAdapterSpecs(request.adapters);
  const signal = environment.signal(caller.signal);
  const fairnessKey = caller.from ?? 'anonymous';
  await using lease = await environment.leaseSlot({ adapters, fairnessKey, signal, session: undefined, prompt: plan.tokens });
  // The logits of the token before the first scored one are needed, so it must be evaluated.
  const { evaluate, cached } = await lease.prepare(plan.tokens, first - 1);
  const run = { evaluate, cached, signal };
  const slot = lease.slot;
  const logprobs = slot instanceof NativeSlot ? await scoreNative(slot, plan, run) : await scoreControlled(slot, plan, run, environment.batchSize);
  return { logprobs, cachedTokens: cached };
}

/** Checks tokens, spans and method; `INVALID_PARAMETER` or `PROMPT_TOO_LONG` otherwise. */
function planScore(info: ModelInfo, request: ScoreRequest): ScorePlan {
  const tokens = request?.tokens;
  const vocabulary = info.vocabularySize;
  if (!Array.isArray(tokens) || tokens.length < 2 || tokens.some((t) => !Number.isInteger(t) || t < 0 || t >= vocabulary)) {
    throw new InvalidArgumentError(`score needs { tokens: integer[] } of 2 or more ids in 0..${vocabulary - 1}`);
  }
  if (tokens.length > info.contextSize) throw new PromptTooLongError(tokens.length, info.contextSize, 0);
  const scored = new Set<number>();
  for (const span of request.spans ?? [[1, tokens.length]]) {
    const [start, end] = Array.isArray(span) ? span : [];
    if (start === undefined || end === undefined || !Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end > tokens.length || start > end) {
      throw new InvalidArgumentError(`score spans must be [start, end) with 1 ≤ start ≤ end ≤ ${tokens.length}, got ${JSON.stringify(span)}`);
    }
    for (let i = start; i < end; i++) scored.add(i);
  }
  const method = request.method ?? 'logits';
  if (method !== 'logits' && method !== 'probabilities') {
    throw new InvalidArgumentError(`score method must be "logits" or "probabilities", got ${JSON.stringify(method)}`);
  }
  // Ids checked above: plain numbers of the model's vocabulary.
  return { tokens: tokens as Token[], scored, method };
}

function abortError(signal: AbortSignal): ActorError {
  return signal.reason instanceof ActorError ? signal.reason : new AbortedError('score', { cause: signal.reason });
}

/** The native engine scores every target in its own batches. */
async function scoreNative(slot: NativeSlot, plan: ScorePlan, run: ScoreRun): Promise<number[]> {
  const { tokens, scored } = plan;
  const { evaluate, cached, signal } = run;
  const targets = evaluate.map((_, i) => (scored.has(cached + i + 1) ? tokens[cached + i + 1] : undefined));
  const values = await slot.score(evaluate, targets, signal);
  const logprobs = targets.flatMap((target, i) => (target === undefined ? [] : [values[i] as number]));
  if (signal.aborted) throw abortError(signal);
  return logprobs;
}

/**
 * node-llama-cpp: one `controlledEvaluate` call per batch, as a prompt is evaluated: an abort stops
 * the work at the next batch, and smaller calls would cost throughput (32-token calls scored 0.85×
 * as fast, bench/tuner.ts).
 */
async function scoreControlled(slot: LlamaContextSequence, plan: ScorePlan, run: ScoreRun, chunkSize: number): Promise<number[]> {
  const { tokens, scored, method } = plan;
  const { evaluate, cached, signal } = run;
  const logprobs: number[] = [];
  for (let offset = 0; offset < evaluate.length; offset += chunkSize) {
    if (signal.aborted) throw abortError(signal);
    const chunk = evaluate.slice(offset, offset + chunkSize);
    const items: ControlledEvaluateInputItem[] = chunk.map((token, i) => {
      const next = cached + offset + i + 1;
      const target = tokens[next];
      if (!scored.has(next) || target === undefined) return token;
      const generateNext =
        method === 'logits'
          ? { logits: { filter: { tokens: [target], includeTop: 1 } }, totalLogitWeight: true, options: { temperature: 0 } }
          : { probabilities: true, options: { temperature: 0 } };
      return [token, { generateNext }];
    });
    const outputs = await slot.controlledEvaluate(items);
    for (const [i, output] of outputs.entries()) {
      const next = cached + offset + i + 1;
      const target = tokens[next];
      if (!scored.has(next) || target === undefined) continue;
      if (method === 'logits') {
        const logits = output?.next.logits;
        const total = output?.next.totalLogitWeight;
        const logit = logits?.get(target);
        if (!logits || total === undefined || logit === undefined) throw new ModelLoadError(`llama.cpp returned no logits at token ${next}`);
        // log p = logit − log Σ exp(l) = (logit − max) − log Σ exp(l − max), and node-llama-cpp gives Σ exp(l − max).
        const top = Math.max(...logits.values());
        logprobs.push(logit - top - Math.log(total));
      } else {
        logprobs.push(Math.log(output?.next.probabilities?.get(target) ?? 0));
      }
    }
  }
  return logprobs;
}
