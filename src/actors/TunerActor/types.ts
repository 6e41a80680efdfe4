import type { Logger } from 'pino';
import type { Address } from '../../messaging/address.js';
import type { Clock } from '../../messaging/Clock.js';
import type { AdapterSpec, AppliedAdapter, ChatMessage } from '../ModelActor/types.js';
import type { EpochMetrics, TrainingOutcome, TrainingProgress } from './training/TrainerMessage.js';
import type { TrainableTensors } from './training/trainableTensors.js';
import type { LoraExtractionResult } from './training/extractLora.js';
import type { TrainerProcessOptions } from './training/TrainerProcess.js';

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
  /**
   * Trains the model on a dataset in a child process and turns the change into a LoRA adapter:
   * {@link StartTrainingRequest} → {@link TrainingResult}. `stream` / `streamAsk` for `progress`
   * events (stage, epoch, step, losses, tokens/s, ETA).
   */
  StartTraining: 'startTraining',
  /** Ends the running session at once (the trainer process is killed; no partial file stays) → {@link TrainingStatus}. */
  StopTraining: 'stopTraining',
  /** The last (or running) session: → {@link TrainingStatus}. */
  GetTrainingStatus: 'getTrainingStatus',
  /** Loss and throughput history of the last (or running) session: → {@link TrainingMetrics}. */
  GetTrainingMetrics: 'getTrainingMetrics',
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
  /**
   * Token ranges `[start, end)` of the assistant turns (text and end-of-turn token): the tokens that
   * are scored. Empty for plain text, which is scored whole.
   */
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

/** Lifecycle states of a training session (an xstate machine). */
export const TrainingSessionState = {
  Preparing: 'preparing',
  Training: 'training',
  Evaluating: 'evaluating',
  Completed: 'completed',
  Stopped: 'stopped',
  Failed: 'failed',
} as const;
export type TrainingSessionState = (typeof TrainingSessionState)[keyof typeof TrainingSessionState];

/** How a run is laid out on the llama.cpp backend, beside the reference {@link TrainingConfig}. */
export interface TrainingRunOptions {
  /** Tokens per training window, a multiple of 256. Defaults to `256`. */
  contextSize?: number;
  /** Which weights train: `all`, or `{ layers?, tensors? }` such as `{ tensors: ['attn_q', 'attn_output'] }` (attn_k and attn_v get no gradient upstream). Defaults to `all`. */
  trainable?: TrainableTensors;
  /** Learning rate of the last epoch (it decays geometrically from `learningRate`). Defaults to `learningRate / 10`. */
  minLearningRate?: number;
  /** AdamW weight decay. Defaults to `0`. */
  weightDecay?: number;
  /** CPU threads of the trainer process. Defaults to `max(1, cores - 1)`, as the ModelActor. */
  threads?: number;
  /** Seeds the order of the training windows. Defaults to `0`. */
  seed?: number;
  /** Shuffle the training windows each epoch. Defaults to `true`. */
  shuffle?: boolean;
  /** Where the trained GGUF goes. Defaults to `<outputDir>/<model>-<session>.gguf`. */
  outputPath?: string;
  /** Where the LoRA adapter goes. Defaults to `<outputPath without .gguf>-lora-r<rank>.gguf`. */
  adapterPath?: string;
}

/** Payload of {@link TunerMessage.StartTraining}. */
export interface StartTrainingRequest {
  /** A prepared dataset, or conversations (prepared with the request's `validationSplit` and `seed`). */
  dataset: TrainingDataset | PrepareTrainingDataRequest;
  /** The reference settings (rank, learning rate, epochs, ...). Defaults to all defaults. */
  config?: TrainingConfig;
  options?: TrainingRunOptions;
}

/** Perplexity and loss of one model variant in a training result. */
export interface VariantEvaluation {
  perplexity: number;
  averageLoss: number;
  totalTokens: number;
}

/** What a completed {@link TunerMessage.StartTraining} returns. */
export interface TrainingResult extends Omit<TrainingOutcome, 'outputPath' | 'lora'> {
  sessionId: string;
  /** The trained GGUF, loadable by a ModelActor. */
  modelPath: string;
  /** The LoRA adapter made from the weight change, applicable to the base model. */
  adapterPath: string;
  /** How well the adapter carries the change (`retainedEnergy`: `‖B·A‖² / ‖ΔW‖²`; `uncoveredEnergy`: the share in norm vectors). */
  lora: Pick<LoraExtractionResult, 'rank' | 'alpha' | 'retainedEnergy' | 'relativeError' | 'uncoveredEnergy' | 'tensors'>;
  /** The whole session, preparation and evaluation included. */
  durationMs: number;
  /** The base model and the base with the new adapter, evaluated on the validation examples (the training ones without validation). */
  evaluation: { examples: 'validation' | 'train'; base: VariantEvaluation; adapter: VariantEvaluation };
}

/** The `data` of a training's `progress` events. */
export type TrainingProgressEvent =
  | { stage: typeof TrainingSessionState.Preparing; message: string }
  | ({ stage: typeof TrainingSessionState.Training } & TrainingProgress)
  | { stage: typeof TrainingSessionState.Evaluating; message: string };

/** What {@link TunerMessage.GetTrainingStatus} returns. */
export interface TrainingStatus {
  sessionId: string;
  state: TrainingSessionState;
  startedAt: number;
  endedAt: number | undefined;
  /** Process id of the trainer child while it runs. */
  trainerPid: number | undefined;
  /** The latest training progress. */
  progress: TrainingProgress | undefined;
  /** Set once completed. */
  result: TrainingResult | undefined;
  /** Set when failed. */
  error: { code: string; message: string } | undefined;
}

/** What {@link TunerMessage.GetTrainingMetrics} returns. */
export interface TrainingMetrics {
  sessionId: string;
  state: TrainingSessionState;
  /** Completed epochs, epoch 0 (before training) first. */
  history: EpochMetrics[];
  /** Every progress report so far, in order. */
  progress: TrainingProgress[];
}

/** Options of a {@link TunerActor}. */
export interface TunerActorOptions {
  /** Address of the ModelActor whose model this tuner works on. */
  model: Address | string;
  /** Timeout of each request to the model, in ms. Defaults to `600_000`. */
  modelTimeout?: number;
  /** Where trained models and adapters go unless a run names its paths. Defaults to `.llama-actors/training`. */
  outputDir?: string;
  /** Options of the trainer process (kill grace time, a log sink). Defaults to its defaults. */
  trainer?: TrainerProcessOptions;
  /** Defaults to the router's actor logger. */
  logger?: Logger;
  /** Defaults to the system clock. */
  clock?: Clock;
}
