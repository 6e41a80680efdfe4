import { nanoid } from 'nanoid';
import { type LlamaGrammar, LlamaText, type Token } from 'node-llama-cpp';
import { FinishReason } from '../../../messaging/TokenStreamEvent.js';
import { decodePhase, type GenerationRun, type PhaseEnd } from '../decodePhase.js';
import type { GeneratedToken } from '../generateTokens.js';
import type { ToolCall } from '../types.js';
import { JsonValueEnd } from './JsonValueEnd.js';
import type { ToolPlan } from './planTools.js';

/** @internal How a generation with tools ended. */
export interface ToolGenerationEnd {
  finishReason: FinishReason;
  toolCalls: ToolCall[];
}

/** Most tokens a name may take; names are at most 64 characters. */
const NAME_TOKENS = 64;
/** Tokens the model gets after a call to start another one before the reply ends. */
const NEXT_CALL_TOKENS = 8;

/**
 * @internal A reply that may call tools, in the model family's own call syntax, phase by phase on
 * one slot: free text until the model writes a call's opening (`auto`; `required` and a named
 * choice write it for the model), then the name (grammar over the candidates, or written for it
 * when there is one), then the arguments under the tool's JSON-schema grammar, cut where the JSON
 * value ends, then the call's closing, written for it. Where the family has parallel calls the
 * model may open another. Text streams as usual; a call streams as `toolCall` pieces. A call the
 * token budget cuts short is left out (its pieces were streamed; `finishReason` is `length`).
 */
export async function* generateToolCalls(
  run: GenerationRun,
  plan: ToolPlan,
  prompt: Token[],
  textGrammar: LlamaGrammar | undefined,
): AsyncGenerator<GeneratedToken, ToolGenerationEnd> {
  const calls: ToolCall[] = [];
  let sequence = prompt;
  if (plan.choice === 'auto' || plan.choice === 'none') {
    const stop = plan.choice === 'none' ? run.params.stop : [...run.params.stop, ...plan.syntax.triggers];
    const end = yield* relayText(run, decodePhase(run, { sequence, grammar: textGrammar, stop }));
    const called = end.stoppedBy !== undefined && plan.choice === 'auto' && !run.params.stop.includes(end.stoppedBy);
    if (!called) return { finishReason: end.finishReason, toolCalls: calls };
    // The text is written again as tokens: the opening then follows it exactly as the template writes it.
    sequence = [...prompt, ...tokenize(run, LlamaText(end.text))];
  }
  for (let index = 0; ; index++) {
    sequence = [...sequence, ...tokenize(run, plan.syntax.opening(index))];
    const named = yield* callName(run, plan, sequence);
    if (named.finishReason !== undefined) return { finishReason: named.finishReason, toolCalls: calls };
    const { name } = named;
    const id = `call_${nanoid(24)}`;
    yield { text: '', tokenId: undefined, logprob: undefined, tokensPerSecond: run.progress.rate(), toolCall: { index, id, name, arguments: '' } };
    sequence = [...sequence, ...named.tokens, ...tokenize(run, plan.syntax.afterName(name))];
    const args = yield* callArguments(run, plan, sequence, name, index);
    if (args.finishReason !== undefined) return { finishReason: args.finishReason, toolCalls: calls };
    calls.push({ id, name, arguments: args.text });
    sequence = [...sequence, ...args.tokens, ...tokenize(run, plan.syntax.closing(name))];
    if (!plan.parallel) break;
    const next = await silently(decodePhase(run, { sequence, grammar: undefined, stop: plan.syntax.nextCallTriggers, maxTokens: NEXT_CALL_TOKENS, flush: false }));
    if (next.finishReason === FinishReason.Cancelled) return { finishReason: FinishReason.Cancelled, toolCalls: calls };
    if (next.stoppedBy === undefined) break;
  }
  return { finishReason: FinishReason.ToolCalls, toolCalls: calls };
}

/** The called tool's name: the only candidate, or the one the name grammar let the model write. */
async function* callName(
  run: GenerationRun,
  plan: ToolPlan,
  sequence: Token[],
): AsyncGenerator<GeneratedToken, { name: string; tokens: Token[]; finishReason?: undefined } | { finishReason: FinishReason }> {
  const only = plan.candidates.length === 1 ? plan.candidates[0] : undefined;
  if (only !== undefined) return { name: only, tokens: tokenize(run, LlamaText(only)) };
  const end = await silently(decodePhase(run, { sequence, grammar: plan.nameGrammar, stop: [], maxTokens: NAME_TOKENS }));
  const name = end.text.trim();
  if (end.finishReason === FinishReason.Cancelled) return { finishReason: FinishReason.Cancelled };
  if (!plan.candidates.includes(name)) return { finishReason: FinishReason.Length };
  return { name, tokens: end.tokens };
}

/** The call's arguments under its tool's grammar, streamed as pieces and cut where the JSON ends. */
async function* callArguments(
  run: GenerationRun,
  plan: ToolPlan,
  sequence: Token[],
  name: string,
  index: number,
): AsyncGenerator<GeneratedToken, { text: string; tokens: Token[]; finishReason?: undefined } | { finishReason: FinishReason }> {
  const json = new JsonValueEnd();
  let fed = 0;
  let complete = false;
  const cut = (text: string): number => {
    const at = json.push(text.slice(fed));
    const base = fed;
    fed = text.length;
    complete = at >= 0;
    return complete ? base + at : -1;
  };
  const phase = decodePhase(run, { sequence, grammar: plan.arguments.get(name), stop: [], cut, flush: false });
  let step = await phase.next();
  while (!step.done) {
    const token = step.value;
    yield { ...token, text: '', toolCall: { index, arguments: token.text } };
    step = await phase.next();
  }
  const end = step.value;
  if (end.finishReason === FinishReason.Cancelled) return { finishReason: FinishReason.Cancelled };
  if (!complete) return { finishReason: FinishReason.Length };
  return { text: end.text.trim(), tokens: end.tokens };
}

/** Yields a text phase's tokens as the reply's text. */
async function* relayText(run: GenerationRun, phase: AsyncGenerator<GeneratedToken, PhaseEnd>): AsyncGenerator<GeneratedToken, PhaseEnd> {
  let step = await phase.next();
  while (!step.done) {
    run.progress.text += step.value.text;
    yield step.value;
    step = await phase.next();
  }
  return step.value;
}

/** Runs a phase whose tokens are not shown (a name is shown whole; a look for another call not at all). */
async function silently(phase: AsyncGenerator<GeneratedToken, PhaseEnd>): Promise<PhaseEnd> {
  let step = await phase.next();
  while (!step.done) step = await phase.next();
  return step.value;
}

function tokenize(run: GenerationRun, text: LlamaText): Token[] {
  return text.tokenize(run.environment.loaded.model.tokenizer, 'trimLeadingSpace');
}

