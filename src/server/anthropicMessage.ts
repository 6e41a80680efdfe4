import { nanoid } from 'nanoid';
import type { GenerationUsage } from '../actors/ModelActor/types.js';
import type { FinishReason } from '../messaging/TokenStreamEvent.js';

/** @internal Anthropic's `stop_reason` of a finish reason. */
export function stopReason(reason: FinishReason | undefined): 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' {
  if (reason === 'toolCalls') return 'tool_use';
  if (reason === 'length') return 'max_tokens';
  if (reason === 'stopSequence') return 'stop_sequence';
  return 'end_turn';
}

/**
 * @internal The `stop_sequence` of a reply: the sequence that ended it. The engine does not say
 * which of several matched, so it is named only when one was given; otherwise `null`.
 */
export function stopSequence(reason: FinishReason | undefined, sequences: readonly string[]): string | null {
  return reason === 'stopSequence' && sequences.length === 1 ? sequences[0]! : null;
}

/** @internal A fresh message id, `msg_…` as Anthropic's. */
export function messageId(): string {
  return `msg_${nanoid()}`;
}

/** @internal Anthropic's `usage` of a generation's token accounting. */
export function anthropicUsage(usage: Partial<GenerationUsage> | undefined) {
  return { input_tokens: usage?.promptTokens ?? 0, output_tokens: usage?.completionTokens ?? 0 };
}

/** @internal A message object, with the content filled in once the reply is known (empty while streaming). */
export function messageObject(id: string, model: string, text: string | undefined) {
  return {
    id,
    type: 'message' as const,
    role: 'assistant' as const,
    model,
    content: text === undefined ? [] : [{ type: 'text' as const, text }],
    stop_reason: null as string | null,
    stop_sequence: null as string | null,
    usage: { input_tokens: 0, output_tokens: 0 },
  };
}
