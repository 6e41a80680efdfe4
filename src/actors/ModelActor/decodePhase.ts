import { type LlamaGrammar, LlamaGrammarEvaluationState, type Token } from 'node-llama-cpp';
import { FinishReason } from '../../messaging/TokenStreamEvent.js';
import type { GeneratedToken, GenerationEnvironment } from './generateTokens.js';
import type { GenerationProgress } from './GenerationProgress.js';
import { NativeSlot } from './native/NativeSlot.js';
import type { NativeToken } from './native/types.js';
import type { ResolvedGenerationParams } from './resolveGenerationParams.js';
import { evaluateOptions, nativeSampling } from './samplingOptions.js';
import type { SlotLease } from './SlotLease.js';
import { TokenTextDecoder } from './TokenTextDecoder.js';
import { nodeLlamaTopLogprobs, topLogprobTexts } from './topLogprobs.js';
import type { GenerateRequest } from './types.js';

/** @internal What every phase of one generation shares: its slot, sampling, budget and progress. */
export interface GenerationRun {
  environment: GenerationEnvironment;
  request: GenerateRequest;
  params: ResolvedGenerationParams;
  lease: SlotLease;
  signal: AbortSignal;
  progress: GenerationProgress;
  /** Most tokens the whole generation samples. */
  maxTokens: number;
}

/**
 * @internal One stretch of sampling with one grammar and one set of stop strings. A plain
 * generation is one phase; a tool call is several (free text, the name, the arguments), each
 * continuing on the same slot from where the sequence stands.
 */
export interface DecodePhase {
  /** What the slot must hold before sampling: the prompt and everything produced since. */
  sequence: Token[];
  grammar: LlamaGrammar | undefined;
  stop: readonly string[];
  /** Most tokens this phase samples (the generation's budget bounds it too). Defaults to the budget. */
  maxTokens?: number;
  /** Ends the phase where it returns an index ≥ 0 into the phase's text so far: the text is cut there. */
  cut?: (text: string) => number;
  /** Release text held back for a stop string when the phase ends otherwise. Defaults to `true`. */
  flush?: boolean;
}

/** @internal How a phase ended. */
export interface PhaseEnd {
  /** `stop` (end of generation or `cut`), `length` (a budget), `stopSequence` or `cancelled`. */
  finishReason: FinishReason;
  /** The stop string that ended it. */
  stoppedBy?: string;
  /** The tokens it sampled, in order. */
  tokens: Token[];
  /** Its text (cut where `cut` said, before the stop string). */
  text: string;
}

/**
 * @internal Evaluates what the slot lacks of `phase.sequence` and yields sampled tokens as text
 * until end of generation, a stop string, the cut or a budget. Aborting stops it within one token;
 * leaving the loop ends the evaluation cleanly and the sequence itself is never disposed.
 */
export async function* decodePhase(run: GenerationRun, phase: DecodePhase): AsyncGenerator<GeneratedToken, PhaseEnd> {
  const { environment, signal, progress } = run;
  const { evaluate, cached } = await run.lease.prepare(phase.sequence);
  progress.cachedPromptTokens ??= cached;
  const decoder = new TokenTextDecoder(environment.loaded.model, phase.stop, phase.sequence);
  const end: PhaseEnd = { finishReason: FinishReason.Stop, tokens: [], text: '' };
  const limit = Math.min(phase.maxTokens ?? Infinity, run.maxTokens - progress.generated.length);
  if (limit <= 0) return { ...end, finishReason: FinishReason.Length };
  for await (const output of await evaluation(run, phase.grammar, evaluate, limit)) {
    if (signal.aborted) {
      end.finishReason = FinishReason.Cancelled;
      break;
    }
    const now = environment.clock.now();
    // The native engine's ids are plain numbers of the same vocabulary.
    const token = output.token as Token;
    progress.add(token, now);
    end.tokens.push(token);
    environment.throughput.countToken(now);
    const piece = decoder.push(token);
    let text = piece.text;
    const at = phase.cut?.(end.text + text) ?? -1;
    if (at >= 0) text = text.slice(0, Math.max(0, at - end.text.length));
    end.text += text;
    const logprob = output.confidence === undefined ? undefined : Math.log(output.confidence);
    const topLogprobs = topLogprobTexts(environment.loaded.model, output.topLogprobs, phase.sequence, end.tokens);
    yield { text, tokenId: token, logprob, tokensPerSecond: progress.rate(), ...(topLogprobs ? { topLogprobs } : {}) };
    if (at >= 0) return end;
    if (piece.stopped) return { ...end, finishReason: FinishReason.StopSequence, stoppedBy: piece.stoppedBy };
    if (end.tokens.length >= limit) {
      end.finishReason = FinishReason.Length;
      break;
    }
  }
  if (end.finishReason !== FinishReason.Cancelled && phase.flush !== false) {
    const rest = decoder.flush();
    if (rest) {
      end.text += rest;
      // Text held back for a stop string that never completed: released as a text-only event.
      yield { text: rest, tokenId: undefined, logprob: undefined, tokensPerSecond: progress.rate() };
    }
  }
  return signal.aborted ? { ...end, finishReason: FinishReason.Cancelled } : end;
}

/** The slot's token stream: the native engine's, or node-llama-cpp's with its sampling options. */
async function evaluation(run: GenerationRun, grammar: LlamaGrammar | undefined, evaluate: Token[], limit: number): Promise<AsyncIterable<NativeToken>> {
  const { lease, params, signal, request } = run;
  const slot = lease.slot;
  const confidence = request.logprobs === true;
  const top = request.topLogprobs ?? 0;
  if (slot instanceof NativeSlot) return slot.evaluate(evaluate, nativeSampling(params, grammar, confidence, limit, top), signal);
  const grammarState = grammar ? new LlamaGrammarEvaluationState({ model: await run.environment.loaded.weights(), grammar }) : undefined;
  const outputs = slot.evaluateWithMetadata(evaluate, { confidence, probabilities: top > 0 }, evaluateOptions(params, run.progress.generated, grammarState, slot.model));
  return top > 0 ? nodeLlamaTopLogprobs(outputs, top) : outputs;
}
