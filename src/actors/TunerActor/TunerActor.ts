import { resolve } from 'node:path';
import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import { type Address, address, parseAddress } from '../../messaging/address.js';
import { Actor } from '../../messaging/Actor.js';
import { type Clock, systemClock } from '../../messaging/Clock.js';
import { AbortedError, InvalidArgumentError, UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import type { AskType, PayloadOf, ReplyOf, StreamOf } from '../../messaging/protocol.js';
import type { StreamCallback, TokenStreamEventInput } from '../../messaging/TokenStreamEvent.js';
import type { ActorContext, ActorLifecycleContext, ActorOptions, StateReporter } from '../../messaging/types.js';
import { PromptTooLongError } from '../ModelActor/modelErrors.js';
import { type ModelProtocol, modelProtocol } from '../ModelActor/modelProtocol.js';
import { type AdapterSpec, type AppliedAdapter, type ChatMessage, ModelMessage } from '../ModelActor/types.js';
import { prepareTrainingData } from './prepareTrainingData.js';
import { TrainerProcess } from './training/TrainerProcess.js';
import { TrainingSession } from './TrainingSession.js';
import { TrainingInProgressError, TrainingSessionNotFoundError } from './tunerErrors.js';
import { type TunerProtocol, tunerProtocol, type ValidateTrainingConfigRequest } from './tunerProtocol.js';
import {
  type EvaluateRequest,
  type EvaluationProgress,
  type EvaluationResult,
  type ExampleLoss,
  type PrepareTrainingDataRequest,
  type StartTrainingRequest,
  type TrainingResult,
  type TrainingConversation,
  type TrainingDataset,
  type TrainingExample,
  TunerMessage,
  type TunerActorOptions,
  type TunerStatus,
} from './types.js';
import { validateTrainingConfig } from './validateTrainingConfig.js';

/** What a message of the tuner's protocol carries. */
type Payload<K extends keyof TunerProtocol> = PayloadOf<TunerProtocol, K>;
/** The events of an evaluation's stream and of a training's, as the protocol types them. */
type EvaluateEvent = TokenStreamEventInput<StreamOf<TunerProtocol, typeof TunerMessage.Evaluate>>;
type TrainingEvent = TokenStreamEventInput<StreamOf<TunerProtocol, typeof TunerMessage.StartTraining>>;

interface Running {
  operation: string;
  startedAt: number;
  completed?: number;
  total?: number;
}

/**
 * Fine-tuning operations on one model, as messages: LoRA adapters (validated, then applied to the
 * model's adapter set without reloading it), training data preparation, training config
 * validation, and evaluation (perplexity and loss over the assistant tokens, from the model's own
 * next-token probabilities). It never calls llama.cpp itself: everything that touches the model
 * goes to the ModelActor, which owns it.
 *
 * `ask` any message for its result; `streamAsk` / `stream` {@link TunerMessage.Evaluate} for
 * `progress` events (one per example) and a `done` event whose `data` is the result. What the
 * tuner is doing is published to the inspection hook as `@actor.state` (`idle` / `busy`).
 *
 * Its messages run in the lanes of {@link tunerProtocol}: state changes (training starts, adapter
 * changes, evaluations) one at a time, in order; reads and control (`status`, `stopTraining`, ...)
 * beside them. A training start is atomic (check, new session) and then releases the lane, so a
 * second start is answered `TRAINING_IN_PROGRESS` and `stopTraining` stops the one running.
 *
 * @example
 * ```ts
 * const tuner = router.ref(router.registerActor('tuner/demo', new TunerActor({ model: '@(model/demo)' }), TunerActor.actorOptions), tunerProtocol);
 * await tuner.ask(TunerMessage.ApplyAdapter, { path: 'adapters/style.gguf', scale: 0.5 });
 * const dataset = await tuner.ask(TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.2, seed: 7 });
 * const { perplexity } = await tuner.ask(TunerMessage.Evaluate, { examples: dataset.validation, adapters: [] }, { timeout: 60_000 });
 * ```
 */
export class TunerActor extends Actor {
  /** Router options: none. Reads and control run in the protocol's concurrent lane, not through a raised `concurrency`. */
  static readonly actorOptions: ActorOptions = {};

  override readonly protocol = tunerProtocol;

  private readonly model: Address;
  private readonly clock: Clock;
  private readonly modelTimeout: number;
  private logger: Logger | undefined;
  private stateReporter: StateReporter | undefined;
  private readonly running = new Set<Running>();
  private lastEvaluation: EvaluationResult | undefined;
  private readonly trainer: TrainerProcess;
  private readonly outputDir: string;
  private session: TrainingSession | undefined;
  /** Settles when the current session has ended, whatever its outcome. */
  private sessionDone: Promise<void> = Promise.resolve();

  constructor(options: TunerActorOptions) {
    super();
    if (options?.model === undefined) throw new InvalidArgumentError('TunerActor needs the address of its model');
    this.model = address(parseAddress(options.model));
    this.clock = options.clock ?? systemClock;
    this.modelTimeout = options.modelTimeout ?? 600_000;
    this.trainer = new TrainerProcess(options.trainer);
    this.outputDir = resolve(options.outputDir ?? '.llama-actors/training');
    this.logger = options.logger;
  }

  override onStart(context: ActorLifecycleContext): void {
    this.logger ??= context.logger;
    this.stateReporter = context.reportState;
    context.reportState('idle', { model: this.model });
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    // The router delivers only the protocol's types; each payload is checked where it is used.
    const payload: unknown = message.payload ?? {};
    switch (message.type) {
      case TunerMessage.ValidateAdapter:
        return this.toModel(context, ModelMessage.ValidateAdapter, { path: (payload as Payload<'validateAdapter'>).path });
      case TunerMessage.ApplyAdapter: {
        const request = payload as Payload<'applyAdapter'>;
        // Validated first, so a bad file gets the precise error before any context is touched.
        await this.toModel(context, ModelMessage.ValidateAdapter, { path: request.path });
        return this.toModel(context, ModelMessage.ApplyAdapter, request);
      }
      case TunerMessage.RemoveAdapter:
        return this.toModel(context, ModelMessage.RemoveAdapter, payload as Payload<'removeAdapter'>);
      case TunerMessage.SetAdapterScale:
        return this.toModel(context, ModelMessage.SetAdapterScale, payload as Payload<'setAdapterScale'>);
      case TunerMessage.ListAdapters:
        return this.toModel(context, ModelMessage.ListAdapters, {});
      case TunerMessage.PrepareTrainingData:
        return this.track('prepareTrainingData', () => this.prepare(payload as Payload<'prepareTrainingData'>, context));
      case TunerMessage.ValidateTrainingConfig:
        return validateTrainingConfig((payload as ValidateTrainingConfigRequest).config ?? {});
      case TunerMessage.Evaluate:
        return this.evaluate(payload as Payload<'evaluate'>, context, undefined);
      case TunerMessage.Status:
        return this.status();
      case TunerMessage.StartTraining:
        return this.startTraining(payload as Payload<'startTraining'>, context, undefined);
      case TunerMessage.StopTraining: {
        const session = this.requireSession();
        session.stop();
        await this.sessionDone;
        return session.status();
      }
      case TunerMessage.GetTrainingStatus:
        return this.requireSession().status();
      case TunerMessage.GetTrainingMetrics:
        return this.requireSession().metrics();
      default:
        return super.receive(message, context);
    }
  }

  private requireSession(): TrainingSession {
    if (!this.session) throw new TrainingSessionNotFoundError();
    return this.session;
  }

  /**
   * Runs a training session: one at a time per tuner. The start runs in the exclusive lane: the
   * check, the model's info and the new session are one step no other start can interleave with;
   * then the lane is released and the long run (the trainer in a child process, then the evaluation
   * of base vs the new adapter through the model) goes on beside later messages.
   */
  private async startTraining(
    request: StartTrainingRequest,
    context: ActorContext,
    onChunk: StreamCallback<TrainingEvent> | undefined,
  ): Promise<TrainingResult> {
    if (this.session?.running) throw new TrainingInProgressError(this.session.id, this.session.state);
    const info = await this.toModel(context, ModelMessage.Info, {});
    const session = new TrainingSession(nanoid(10), {
      clock: this.clock,
      trainer: this.trainer,
      modelPath: info.path,
      outputDir: this.outputDir,
      prepare: (dataset, signal) =>
        this.prepare(dataset, context, signal),
      evaluate: async (examples, adapters, signal) => {
        const { perplexity, averageLoss, totalTokens } = await this.scoreExamples(examples, adapters, undefined, context, signal, () => {});
        return { perplexity, averageLoss, totalTokens };
      },
      onProgress: async (event) => {
        if (onChunk) await onChunk({ type: 'progress', data: event });
      },
      onState: (state, current) => this.stateReporter?.(`training:${state}`, { sessionId: current.id }),
    });
    this.session = session;
    const running: Running = { operation: 'train', startedAt: this.clock.now() };
    const done = this.track(running, () => session.run(request, context.signal));
    this.sessionDone = done.then(
      () => undefined,
      () => undefined,
    );
    // The session is stored and running: a later start sees it. The run needs the lane no more.
    context.releaseLane();
    const result = await done;
    this.logger?.info({ sessionId: session.id, modelPath: result.modelPath, adapterPath: result.adapterPath }, 'training completed');
    return result;
  }

  override async stream(payload: unknown, send: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    const onChunk = send as StreamCallback<EvaluateEvent | TrainingEvent>;
    switch (context.message.type) {
      case TunerMessage.Evaluate: {
        const result = await this.evaluate(payload as Payload<'evaluate'>, context, onChunk);
        await onChunk({ type: 'done', data: result });
        return;
      }
      case TunerMessage.StartTraining: {
        const result = await this.startTraining(payload as Payload<'startTraining'>, context, onChunk);
        await onChunk({ type: 'done', data: result });
        return;
      }
      default:
        throw new UnsupportedMessageError(context.self.slice(2, -1), context.message.type);
    }
  }

  /** Stops a running training session (its trainer process is killed) before the actor stops. */
  override async onStop(): Promise<void> {
    this.session?.stop();
    await this.sessionDone;
  }

  /** What the tuner is doing now, and the last evaluation's result. */
  status(): TunerStatus {
    return {
      state: this.running.size === 0 ? 'idle' : 'busy',
      running: [...this.running].map((r) => ({ ...r })),
      lastEvaluation: this.lastEvaluation,
    };
  }

  /** Asks the model, typed by its protocol. */
  private toModel<K extends AskType<ModelProtocol>>(
    context: ActorContext,
    type: K,
    payload: PayloadOf<ModelProtocol, K>,
    signal: AbortSignal = context.signal,
  ): Promise<ReplyOf<ModelProtocol, K>> {
    return context.router.ref(this.model, modelProtocol).ask(type, payload, { signal, timeout: this.modelTimeout });
  }

  private async prepare(request: PrepareTrainingDataRequest, context: ActorContext, signal: AbortSignal = context.signal): Promise<TrainingDataset> {
    if (typeof request !== 'object' || request === null) throw new InvalidArgumentError('prepareTrainingData needs { conversations }');
    const info = await this.toModel(context, ModelMessage.Info, {}, signal);
    const contextSize = request.contextSize ?? info.contextSize;
    if (!Number.isInteger(contextSize) || contextSize < 2) {
      throw new InvalidArgumentError(`contextSize must be an integer of at least 2, got ${String(request.contextSize)}`);
    }
    return prepareTrainingData(request.conversations, {
      ...(request.validationSplit === undefined ? {} : { validationSplit: request.validationSplit }),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      contextSize,
      tokenizeChat: (messages: ChatMessage[]) => this.toModel(context, ModelMessage.TokenizeChat, { messages }, signal),
      signal,
    });
  }

  /**
   * Scores each example's assistant tokens with the model (and adapter set) and reports the mean
   * negative log-likelihood per token and its exponential, the perplexity. One `progress` event per
   * example when streaming; an abort stops the model's scoring within one chunk of tokens.
   */
  private async evaluate(
    request: EvaluateRequest,
    context: ActorContext,
    onChunk: StreamCallback<EvaluateEvent> | undefined,
  ): Promise<EvaluationResult> {
    if (typeof request !== 'object' || request === null || !Array.isArray(request.examples) || request.examples.length === 0) {
      throw new InvalidArgumentError('evaluate needs { examples: [...] } with at least one example');
    }
    const adapters = evaluationAdapters(request);
    const running: Running = { operation: 'evaluate', startedAt: this.clock.now(), completed: 0, total: request.examples.length };
    return this.track(running, async () => {
      const examples = await this.asExamples(request.examples, context);
      const result = await this.scoreExamples(examples, adapters, request.method, context, context.signal, async (progress) => {
        running.completed = progress.completed;
        this.stateReporter?.('busy', { operation: 'evaluate', ...progress });
        if (onChunk) await onChunk({ type: 'progress', data: progress });
      });
      this.lastEvaluation = result;
      return result;
    });
  }

  /** Scores the assistant tokens of each example with the model and adapter set; the mean loss and perplexity. */
  private async scoreExamples(
    examples: TrainingExample[],
    adapters: AdapterSpec[] | undefined,
    method: EvaluateRequest['method'],
    context: ActorContext,
    signal: AbortSignal,
    onProgress: (progress: EvaluationProgress) => Promise<void> | void,
  ): Promise<EvaluationResult> {
    const startedAt = this.clock.now();
    const losses: ExampleLoss[] = [];
    let sum = 0;
    let count = 0;
    for (const [index, example] of examples.entries()) {
      if (signal.aborted) throw new AbortedError('evaluate', { cause: signal.reason });
      // Plain text (no assistant turns marked) is scored whole, every token given those before it.
      const spans: Array<[number, number]> = example.assistantSpans.length > 0 ? example.assistantSpans : [[1, example.tokens.length]];
      const { logprobs } = await this.toModel(
        context,
        ModelMessage.Score,
        {
          tokens: example.tokens,
          spans,
          ...(adapters === undefined ? {} : { adapters }),
          ...(method === undefined ? {} : { method }),
        },
        signal,
      );
      const exampleSum = logprobs.reduce((total, logprob) => total - logprob, 0);
      sum += exampleSum;
      count += logprobs.length;
      losses.push({ id: example.id, loss: logprobs.length > 0 ? exampleSum / logprobs.length : 0, tokens: logprobs.length });
      await onProgress({ completed: index + 1, total: examples.length, exampleId: example.id, tokens: count, averageLoss: count > 0 ? sum / count : 0 });
    }
    if (count === 0) throw new InvalidArgumentError('evaluate found no assistant tokens to score in the examples');
    const durationMs = this.clock.now() - startedAt;
    const averageLoss = sum / count;
    return {
      perplexity: Math.exp(averageLoss),
      averageLoss,
      totalTokens: count,
      examples: losses,
      adapters: adapters?.map((a): AppliedAdapter => ({ path: resolve(a.path), scale: a.scale ?? 1 })),
      durationMs,
      tokensPerSecond: durationMs > 0 ? (count * 1000) / durationMs : 0,
    };
  }

  /** Prepared examples pass through; conversations are formatted and tokenized, none held out. */
  private async asExamples(items: Array<TrainingExample | TrainingConversation>, context: ActorContext): Promise<TrainingExample[]> {
    const prepared = items.every((item) => Array.isArray((item as TrainingExample).tokens));
    if (prepared) {
      return (items as TrainingExample[]).map((item, index) => {
        if (!Array.isArray(item.assistantSpans)) {
          throw new InvalidArgumentError(`examples[${index}] has tokens but no assistantSpans`);
        }
        return item;
      });
    }
    if (items.some((item) => Array.isArray((item as TrainingExample).tokens))) {
      throw new InvalidArgumentError('examples must be all prepared examples or all conversations, not a mix');
    }
    const info = await this.toModel(context, ModelMessage.Info, {});
    const dataset = await prepareTrainingData(items as TrainingConversation[], {
      validationSplit: 0,
      contextSize: info.contextSize,
      tokenizeChat: (messages) => this.toModel(context, ModelMessage.TokenizeChat, { messages }),
      signal: context.signal,
    });
    const [first] = dataset.overlong;
    if (first) throw new PromptTooLongError(first.tokens, first.contextSize, 0);
    return dataset.train;
  }

  /** Runs an operation while publishing `busy` / `idle` to the inspection hook. */
  private async track<T>(operation: string | Running, run: () => Promise<T>): Promise<T> {
    const running = typeof operation === 'string' ? { operation, startedAt: this.clock.now() } : operation;
    this.running.add(running);
    this.stateReporter?.('busy', { operation: running.operation });
    try {
      return await run();
    } finally {
      this.running.delete(running);
      if (this.running.size === 0) this.stateReporter?.('idle', { model: this.model });
    }
  }
}

function evaluationAdapters(request: EvaluateRequest): AdapterSpec[] | undefined {
  if (request.adapter !== undefined && request.adapters !== undefined) {
    throw new InvalidArgumentError('evaluate takes adapter or adapters, not both');
  }
  if (request.adapter !== undefined) return [typeof request.adapter === 'string' ? { path: request.adapter } : request.adapter];
  return request.adapters;
}

