import type { Logger } from 'pino';
import type { Address } from '../../messaging/address.js';
import type { Clock } from '../../messaging/Clock.js';
import type { AdapterSpec, AppliedAdapter, ChatMessage } from '../ModelActor/types.js';

/** Message types a TunerActor handles. */
export const TunerMessage = {
  /** Checks an adapter against the model without loading it: `{ path }` → `AdapterInfo`. */
  ValidateAdapter: 'validateAdapter',
  /** Validates, then adds an adapter to the model's set: `{ path, scale? }` → `AdapterListing`. */
  ApplyAdapter: 'applyAdapter',
  /** `{ path? }` (none: all) → `AdapterListing`. */
  RemoveAdapter: 'removeAdapter',
  /** `{ path, scale }` → `AdapterListing`. */
  SetAdapterScale: 'setAdapterScale',
  /** → `AdapterListing`. */
  ListAdapters: 'listAdapters',
  /** Conversations to tokenized, split examples: {@link PrepareTrainingDataRequest} → {@link TrainingDataset}. */
  PrepareTrainingData: 'prepareTrainingData',
  /** `{ config }` → {@link ResolvedTrainingConfig}, or a typed error for the first bad setting. */
  ValidateTrainingConfig: 'validateTrainingConfig',
  /** Perplexity and loss: `ask` for the result, `streamAsk` for progress events: {@link EvaluateRequest} → {@link EvaluationResult}. */
  Evaluate: 'evaluate',
  /** → {@link TunerStatus}. */
  Status: 'status',
} as const;
export type TunerMessage = (typeof TunerMessage)[keyof typeof TunerMessage];

/** One message of a training conversation. */
export type TrainingMessage = ChatMessage;

/** A conversation to learn from: the assistant turns are what the model is trained (and evaluated) on. */
export interface TrainingConversation {
  /** Names the example in errors and results. Defaults to its index (`"#3"`). */
  id?: string;
  messages: TrainingMessage[];
}

/** A conversation formatted with the model's chat template and tokenized. */
export interface TrainingExample {
  id: string;
  tokens: number[];
  /** Token ranges `[start, end)` of the assistant turns (text and end-of-turn token): the tokens that are learned and scored. */
  assistantSpans: Array<[number, number]>;
  /** Tokens in the assistant spans. */
  assistantTokens: number;
}

/** An example longer than the context: reported, never cut. */
export interface OverlongExample {
  id: string;
  tokens: number;
  contextSize: number;
}

/** What {@link TunerMessage.PrepareTrainingData} returns. */
export interface TrainingDataset {
  train: TrainingExample[];
  validation: TrainingExample[];
  /** Examples left out because they do not fit the context. */
  overlong: OverlongExample[];
  counts: {
    examples: number;
    trainExamples: number;
    validationExamples: number;
    trainTokens: number;
    validationTokens: number;
    /** Assistant tokens over train and validation. */
    assistantTokens: number;
  };
  validationSplit: number;
  seed: number;
  contextSize: number;
}

/** Payload of {@link TunerMessage.PrepareTrainingData}. */
export interface PrepareTrainingDataRequest {
  conversations: TrainingConversation[];
  /** Share of the examples held out for validation, 0 to below 1. Defaults to `0.2`. */
  validationSplit?: number;
  /** Seeds the shuffle that picks the validation examples: the same seed gives the same split. Defaults to `0`. */
  seed?: number;
  /** Longest example, in tokens. Defaults to the model's context size. */
  contextSize?: number;
}

/** QLoRA settings, as the reference API has them. The llama.cpp backend cannot train quantized weights (see part 2). */
export interface QLoraConfig {
  /** `nf4`, `fp4` or `int8`. */
  quantType: 'nf4' | 'fp4' | 'int8';
  /** Defaults to `false`. */
  useDoubleQuant?: boolean;
  /** `float16`, `bfloat16` or `float32`. Defaults to `float16`. */
  computeDtype?: 'float16' | 'bfloat16' | 'float32';
}

/** Training settings; every value is checked by {@link TunerMessage.ValidateTrainingConfig}. */
export interface TrainingConfig {
  /** Rank of the LoRA adapter made from the training, 1 to 1024. Defaults to `8`. */
  loraRank?: number;
  /** LoRA alpha (the update is scaled by alpha / rank), above 0. Defaults to the rank. */
  loraAlpha?: number;
  /** Initial learning rate, above 0 and at most 1. Defaults to `1e-3`. */
  learningRate?: number;
  /** Passes over the training data, 1 to 10000. Defaults to `3`. */
  epochs?: number;
  /** Sequences per optimizer step, 1 to 4096. Defaults to `1`. */
  batchSize?: number;
  /** Train a quantized base (QLoRA). Defaults to `false`. */
  useQLoRA?: boolean;
  /** Required when `useQLoRA` is true. */
  qLoRAConfig?: QLoraConfig;
}

/** A {@link TrainingConfig} with every default filled in. */
export interface ResolvedTrainingConfig {
  loraRank: number;
  loraAlpha: number;
  learningRate: number;
  epochs: number;
  batchSize: number;
  useQLoRA: boolean;
  qLoRAConfig: Required<QLoraConfig> | undefined;
}

/** Payload of {@link TunerMessage.Evaluate}. */
export interface EvaluateRequest {
  /** Prepared examples, or conversations (prepared on the fly, all of them evaluated). */
  examples: Array<TrainingExample | TrainingConversation>;
  /** Adapter set to evaluate with (`[]`: the base model). Defaults to the model's set. */
  adapters?: AdapterSpec[];
  /** One adapter, shorthand for `adapters: [adapter]`. */
  adapter?: string | AdapterSpec;
  /** How log-probabilities are computed (see the model's `score`). Defaults to `logits`. */
  method?: 'logits' | 'probabilities';
}

/** Loss of one example. */
export interface ExampleLoss {
  id: string;
  /** Mean negative log-likelihood of its assistant tokens, in nats. */
  loss: number;
  tokens: number;
}

/** What {@link TunerMessage.Evaluate} returns (and puts in the `data` of its `done` event). */
export interface EvaluationResult {
  /** `exp(averageLoss)`. */
  perplexity: number;
  /** Mean negative log-likelihood per assistant token, in nats. */
  averageLoss: number;
  /** Assistant tokens scored. */
  totalTokens: number;
  examples: ExampleLoss[];
  /** The adapter set evaluated; `undefined` means the model's set at the time. */
  adapters: AppliedAdapter[] | undefined;
  durationMs: number;
  /** Tokens scored per second. */
  tokensPerSecond: number;
}

/** The `data` of an evaluation's `progress` events. */
export interface EvaluationProgress {
  completed: number;
  total: number;
  exampleId: string;
  /** Assistant tokens scored so far. */
  tokens: number;
  /** Running mean loss so far, in nats. */
  averageLoss: number;
}

/** What the tuner is doing. */
export interface TunerStatus {
  /** `idle`, or the operations running. */
  state: 'idle' | 'busy';
  running: Array<{ operation: string; startedAt: number; completed?: number; total?: number }>;
  lastEvaluation: EvaluationResult | undefined;
}

/** Options of a {@link TunerActor}. */
export interface TunerActorOptions {
  /** Address of the ModelActor whose model this tuner works on. */
  model: Address | string;
  /** Timeout of each request to the model, in ms. Defaults to `600_000`. */
  modelTimeout?: number;
  /** Defaults to the router's actor logger. */
  logger?: Logger;
  /** Defaults to the system clock. */
  clock?: Clock;
}
