import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tunerProtocol } from '../actors/TunerActor/tunerProtocol.js';
import { TunerMessage, type TrainingConversation, type TrainingProgressEvent, type TrainingResult } from '../actors/TunerActor/types.js';
import type { TrainableTensors } from '../actors/TunerActor/training/trainableTensors.js';
import {
  CliError,
  ExitCode,
  intFlag,
  loadFlags,
  logLevel,
  MODEL_FLAGS_HELP,
  MODEL_OPTIONS,
  numberFlag,
  parse,
  type ParsedValues,
  stringFlag,
  UsageError,
} from './args.js';
import { createCliLogger } from './logger.js';
import { startRuntime } from './runtime.js';
import { onShutdownSignal } from './signals.js';

export const TRAIN_USAGE = `Usage: llama-actors train --data FILE [flags]

Fine-tunes a model on conversations with llama.cpp's own trainer (in a child process), then turns
the weight change into a LoRA adapter and compares the base model with base + adapter on the
held-out conversations. Prints progress to stderr and, at the end, the paths of the trained GGUF
and of the adapter. Ctrl-C stops training at once; nothing partial is left.

Training flags:
      --data FILE             conversations: JSON lines (or one JSON array) of
                              {"id"?: "...", "messages": [{"role": "system|user|assistant", "content": "..."}]}
      --epochs N              passes over the data (default: 3)
      --learning-rate X       initial learning rate; it decays tenfold over the run (default: 0.001)
      --rank N                rank of the LoRA adapter (default: 8)
      --window N              tokens per training window, a multiple of 256 (default: 256)
      --validation-split X    share of conversations held out, 0 to below 1 (default: 0.2)
      --seed N                seeds the split and the window order (default: 0)
      --tensors LIST          weights to train, e.g. attn_q,attn_output,ffn_* (default: all)
      --layers LIST           blocks to train, e.g. 2,3 (default: all)
      --out DIR               where the trained model and adapter go (default: .llama-actors/training)

${MODEL_FLAGS_HELP.replace('COMMAND_DEFAULT', 'warn')}

The model must have F32, F16 or BF16 weights: llama.cpp cannot train quantized ones.

Examples:
  llama-actors train --data chats.jsonl --model ~/models/base-f16.gguf --epochs 4
  llama-actors train --data chats.jsonl --tensors attn_q,attn_output --layers 10,11 --rank 16`;

const TRAIN_OPTIONS = {
  ...MODEL_OPTIONS,
  data: { type: 'string' },
  epochs: { type: 'string' },
  'learning-rate': { type: 'string' },
  rank: { type: 'string' },
  window: { type: 'string' },
  'validation-split': { type: 'string' },
  seed: { type: 'string' },
  tensors: { type: 'string' },
  layers: { type: 'string' },
  out: { type: 'string' },
} as const;

/** Conversations from a JSON-lines file or a JSON array. */
export async function readConversations(path: string): Promise<TrainingConversation[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --data ${path}: ${(error as Error).message}`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as TrainingConversation[];
    } catch (error) {
      throw new CliError(`--data ${path} is not valid JSON: ${(error as Error).message}`);
    }
  }
  return trimmed
    .split('\n')
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line.length > 0)
    .map(({ line, number }) => {
      try {
        return JSON.parse(line) as TrainingConversation;
      } catch (error) {
        throw new CliError(`--data ${path}, line ${number}: not valid JSON (${(error as Error).message})`);
      }
    });
}

function trainable(values: ParsedValues): TrainableTensors | undefined {
  const tensors = stringFlag(values, 'tensors');
  const layers = stringFlag(values, 'layers');
  if (tensors === undefined && layers === undefined) return undefined;
  const list = (raw: string) => raw.split(',').map((item) => item.trim()).filter(Boolean);
  const blocks = layers === undefined ? undefined : list(layers).map(Number);
  if (blocks?.some((block) => !Number.isInteger(block) || block < 0)) throw new UsageError(`--layers must be block indices like 2,3, got '${layers}'`);
  return { ...(tensors === undefined ? {} : { tensors: list(tensors) }), ...(blocks === undefined ? {} : { layers: blocks }) };
}

/** `llama-actors train`: resolves with the exit code once training has ended. */
export async function train(args: string[]): Promise<number> {
  const { values } = parse(args, TRAIN_OPTIONS);
  if (values.help) {
    process.stdout.write(`${TRAIN_USAGE}\n`);
    return ExitCode.Ok;
  }
  const data = stringFlag(values, 'data');
  if (data === undefined) throw new UsageError('--data FILE is required');
  const epochs = intFlag(values, 'epochs', 1, 10_000) ?? 3;
  const learningRate = numberFlag(values, 'learning-rate', Number.MIN_VALUE, 1) ?? 1e-3;
  const rank = intFlag(values, 'rank', 1, 1024) ?? 8;
  const window = intFlag(values, 'window', 256) ?? 256;
  const validationSplit = numberFlag(values, 'validation-split', 0, 0.99) ?? 0.2;
  const seed = intFlag(values, 'seed', 0, 0x7fff_ffff) ?? 0;
  const selection = trainable(values);
  const conversations = await readConversations(resolve(data));
  const logger = await createCliLogger(logLevel(values, 'warn'));
  const runtime = await startRuntime({ model: stringFlag(values, 'model'), load: loadFlags(values), dataDir: undefined, logger });
  let stop: (() => void) | undefined;
  const dispose = onShutdownSignal((signal) => {
    process.stderr.write(`\n${signal}: stopping training (again to force)\n`);
    stop?.();
  });
  try {
    const tuner = runtime.router.ref(await runtime.models.ensureTuner(runtime.model), tunerProtocol);
    stop = () => void tuner.ask(TunerMessage.StopTraining, null).catch(() => {});
    const threads = loadFlags(values).threads;
    const out = stringFlag(values, 'out');
    const result = await tuner.streamAsk(
      TunerMessage.StartTraining,
      {
        dataset: { conversations, validationSplit, seed },
        config: { epochs, learningRate, loraRank: rank },
        options: {
          contextSize: window,
          seed,
          ...(selection === undefined ? {} : { trainable: selection }),
          ...(threads === undefined ? {} : { threads }),
          ...(out === undefined ? {} : { outputPath: join(resolve(out), `${runtime.modelId}-${Date.now().toString(36)}.gguf`) }),
        },
      },
      {
        timeout: Number.POSITIVE_INFINITY,
        onChunk: (event) => {
          if (event.type === 'progress' && event.data !== undefined && 'stage' in event.data) process.stderr.write(`${describe(event.data)}\n`);
        },
      },
    );
    if (result.error) {
      if (result.error.code === 'TRAINING_STOPPED') {
        process.stderr.write('training stopped; no model was written\n');
        return ExitCode.Failure;
      }
      throw new CliError(`${result.error.code}: ${result.error.message}`);
    }
    if (result.data === undefined) throw new CliError('training ended without a result');
    process.stdout.write(`${summary(result.data)}\n`);
    return ExitCode.Ok;
  } finally {
    dispose();
    await runtime.close();
  }
}

function describe(event: TrainingProgressEvent): string {
  if (event.stage !== 'training') return `${event.stage}: ${event.message}`;
  const validation = event.validationLoss === null ? '' : `, validation loss ${event.validationLoss.toFixed(3)}`;
  return (
    `epoch ${event.epoch}/${event.epochs} step ${event.step}/${event.steps}: train loss ${event.trainLoss.toFixed(3)}${validation}, ` +
    `${Math.round(event.tokensPerSecond)} tokens/s, ETA ${Math.ceil(event.etaMs / 1000)} s`
  );
}

function summary(result: TrainingResult): string {
  const loss = (value: number | null) => (value === null ? 'n/a' : value.toFixed(3));
  return [
    `trained model   ${result.modelPath}`,
    `LoRA adapter    ${result.adapterPath} (rank ${result.lora.rank}, keeps ${(result.lora.retainedEnergy * 100).toFixed(1)} % of the weight change)`,
    `validation loss ${loss(result.initialValidationLoss)} → ${loss(result.validationLoss)} nats per token, ${Math.round(result.tokensPerSecond)} training tokens/s`,
    `perplexity on the ${result.evaluation.examples} conversations: base ${result.evaluation.base.perplexity.toFixed(1)}, base + adapter ${result.evaluation.adapter.perplexity.toFixed(1)}`,
  ].join('\n');
}
