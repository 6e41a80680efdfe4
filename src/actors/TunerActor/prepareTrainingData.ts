import { AbortedError, InvalidArgumentError } from '../../messaging/errors.js';
import type { ChatMessage, ChatTokens } from '../ModelActor/types.js';
import { InvalidTrainingDataError } from './tunerErrors.js';
import type { OverlongExample, TrainingConversation, TrainingDataset, TrainingExample } from './types.js';
import { mulberry32 } from '../../messaging/mulberry32.js';

/** Options of {@link prepareTrainingData}. */
export interface PrepareTrainingDataOptions {
  /** Share of the examples held out for validation, 0 to below 1. Defaults to `0.2`. */
  validationSplit?: number;
  /** Seeds the shuffle that picks the validation examples. Defaults to `0`. */
  seed?: number;
  /** Longest example, in tokens; longer ones are reported in `overlong`, never cut. */
  contextSize: number;
  /** Formats and tokenizes one conversation (the model's `tokenizeChat`). */
  tokenizeChat: (messages: ChatMessage[]) => Promise<ChatTokens>;
  signal?: AbortSignal;
}

const ROLES = new Set(['system', 'user', 'assistant']);

/**
 * @internal Checks every conversation (typed errors name the example), formats and tokenizes it
 * with the model's chat template, sets aside those longer than the context, and splits the rest
 * into train and validation with a seeded shuffle: the same seed and data give the same split.
 */
export async function prepareTrainingData(
  conversations: TrainingConversation[],
  options: PrepareTrainingDataOptions,
): Promise<TrainingDataset> {
  const validationSplit = options.validationSplit ?? 0.2;
  if (typeof validationSplit !== 'number' || !(validationSplit >= 0 && validationSplit < 1)) {
    throw new InvalidArgumentError(`validationSplit must be a number from 0 to below 1, got ${String(options.validationSplit)}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new InvalidArgumentError(`seed must be an integer from 0 to 4294967295, got ${String(options.seed)}`);
  }
  if (!Array.isArray(conversations) || conversations.length === 0) {
    throw new InvalidTrainingDataError('empty-dataset', 'no conversations to prepare (an empty list)');
  }
  const ids = new Set<string>();
  conversations.forEach((conversation, index) => {
    const id = checkConversation(conversation, index);
    if (ids.has(id)) throw new InvalidTrainingDataError('duplicate-id', `conversation ${index} repeats the id ${JSON.stringify(id)}`, index, id);
    ids.add(id);
  });

  const examples: TrainingExample[] = [];
  const overlong: OverlongExample[] = [];
  for (const [index, conversation] of conversations.entries()) {
    if (options.signal?.aborted) throw new AbortedError('preparing training data', { cause: options.signal.reason });
    const id = conversation.id ?? `#${index}`;
    const { tokens, assistantSpans } = await options.tokenizeChat(conversation.messages);
    if (tokens.length > options.contextSize) {
      overlong.push({ id, tokens: tokens.length, contextSize: options.contextSize });
      continue;
    }
    const assistantTokens = assistantSpans.reduce((sum, [start, end]) => sum + end - start, 0);
    examples.push({ id, tokens, assistantSpans, assistantTokens });
  }
  if (examples.length === 0) {
    throw new InvalidTrainingDataError(
      'no-examples-fit',
      `none of the ${conversations.length} conversations fits the context of ${options.contextSize} tokens (longest ${Math.max(...overlong.map((o) => o.tokens))})`,
    );
  }

  const validationCount = validationSize(examples.length, validationSplit);
  const order = shuffledIndexes(examples.length, seed);
  const held = new Set(order.slice(0, validationCount));
  const train = examples.filter((_, i) => !held.has(i));
  const validation = examples.filter((_, i) => held.has(i));
  const tokens = (list: TrainingExample[]): number => list.reduce((sum, e) => sum + e.tokens.length, 0);
  return {
    train,
    validation,
    overlong,
    counts: {
      examples: examples.length,
      trainExamples: train.length,
      validationExamples: validation.length,
      trainTokens: tokens(train),
      validationTokens: tokens(validation),
      assistantTokens: examples.reduce((sum, e) => sum + e.assistantTokens, 0),
    },
    validationSplit,
    seed,
    contextSize: options.contextSize,
  };
}

/** Validates one conversation's shape and returns its id. */
function checkConversation(conversation: TrainingConversation, index: number): string {
  if (typeof conversation !== 'object' || conversation === null || !Array.isArray(conversation.messages)) {
    throw new InvalidTrainingDataError('not-a-conversation', `conversation ${index} must be { id?, messages: [...] }, got ${JSON.stringify(conversation)}`, index);
  }
  if (conversation.id !== undefined && (typeof conversation.id !== 'string' || conversation.id.length === 0)) {
    throw new InvalidTrainingDataError('not-a-conversation', `conversation ${index} has an id that is not a non-empty string: ${JSON.stringify(conversation.id)}`, index);
  }
  const id = conversation.id ?? `#${index}`;
  const name = `conversation ${index} (${JSON.stringify(id)})`;
  if (conversation.messages.length === 0) throw new InvalidTrainingDataError('empty-conversation', `${name} has no messages`, index, id);
  let assistantTurns = 0;
  for (const [position, message] of conversation.messages.entries()) {
    const role = (message as { role?: unknown } | null)?.role;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new InvalidTrainingDataError(
        'unknown-role',
        `${name}: message ${position} has role ${JSON.stringify(role ?? null)} (expected system, user or assistant)`,
        index,
        id,
      );
    }
    if (typeof message.content !== 'string') {
      throw new InvalidTrainingDataError('invalid-content', `${name}: message ${position} has no string content`, index, id);
    }
    if (role === 'assistant') assistantTurns++;
  }
  if (assistantTurns === 0) throw new InvalidTrainingDataError('no-assistant-turn', `${name} has no assistant turn to learn from`, index, id);
  return id;
}

/** Held-out examples: the share rounded, but at least one and never all when there are two or more. */
function validationSize(examples: number, split: number): number {
  if (split === 0 || examples < 2) return 0;
  return Math.min(examples - 1, Math.max(1, Math.round(examples * split)));
}

/** Fisher–Yates with mulberry32: a fixed permutation for each seed, the same on every platform. */
function shuffledIndexes(length: number, seed: number): number[] {
  const random = mulberry32(seed);
  const order = Array.from({ length }, (_, i) => i);
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}
