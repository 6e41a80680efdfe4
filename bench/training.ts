/**
 * Training throughput through the TunerActor (`startTraining` over the router: a TrainingSession
 * running a `TrainerProcess`, a child process driving llama.cpp's training API, with per-micro-batch
 * progress over IPC and streamed to the caller) ÷ the same training done by a plain script calling
 * the same API directly (`bench/trainingDirect.ts`: synchronous calls, no callbacks, no IPC), side
 * by side in one run. Target ≥ 0.95.
 *
 * Both sides get the same resolved job (tiny model by default, the demo corpus tokenized by
 * node-llama-cpp, no shuffling so the losses must match to the last digit) and are timed over the
 * same span: from the end of setup (model loaded, data laid out, `llama_opt_init` done) to the
 * trained GGUF in place, i.e. an initial validation pass, `epochs` × (training pass + validation
 * pass) and the save. On the TunerActor side that span is the session's lifecycle from `training`
 * to `evaluating`, timed by the router's inspection events (the LoRA extraction and evaluation that
 * follow are not training). Tokens/s = training tokens ÷ that time. Process start and model load
 * are reported separately for the runtime side. Rounds alternate which side goes first; medians.
 *
 *   npx tsx bench/training.ts [--rounds 3] [--epochs 4] [--threads 1] [--context 256]
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { ensureTinyModel } from '../scripts/make-models.js';
import { pino } from 'pino';
import { preflightTrainingJob } from '../src/actors/TunerActor/training/preflightTrainingJob.js';
import type { ResolvedTrainingJob, TrainingJob } from '../src/actors/TunerActor/training/TrainingJob.js';
import {
  type Address,
  InspectionEventType,
  MessageRouter,
  ModelActor,
  type TrainingDataset,
  type TrainingProgress,
  type TrainingResult,
  type TrainingStatus,
  TunerActor,
  TunerMessage,
} from '../src/index.js';
import { ForeignLoad } from './ForeignLoad.js';
import { flag, median } from './args.js';

const ROUNDS = flag('rounds', 3);
const EPOCHS = flag('epochs', 4);
/** One thread by default: on a 2-core machine, two training threads spend most of their time in ggml_barrier. */
const THREADS = flag('threads', 1);
const CONTEXT = flag('context', 256);
const DIRECT = fileURLToPath(new URL('./trainingDirect.ts', import.meta.url));
const CORPUS = fileURLToPath(new URL('../scripts/corpus/demo-corpus.txt', import.meta.url));

/** One side's figures for one round. */
interface SideResult {
  tokens: number;
  trainingMs: number;
  tokensPerSecond: number;
  /** CPU time of the process that trained, over its life (for the foreign-load estimate). */
  cpuMs: number;
  trainLoss: number;
  validationLoss: number;
  /** Runtime side only: fork to `started` (process start, tsx, model load, data layout). */
  startupMs?: number;
}

/** The TunerActor in front of a ModelActor for the base model, and the session's state changes as the router reports them. */
interface Runtime {
  router: MessageRouter;
  tuner: Address;
  /** When the session last entered each state (`performance.now()`). */
  entered: Map<string, number>;
}

async function startRuntime(modelPath: string): Promise<Runtime> {
  const entered = new Map<string, number>();
  const router = new MessageRouter({
    logger: pino({ level: 'warn' }),
    inspect: (event) => {
      if (event.type === InspectionEventType.ActorState && String(event.actor) === '@(tuner)') entered.set(event.state, performance.now());
    },
  });
  const model = new ModelActor({ modelPath, threads: 1, slots: 1 });
  const address = router.registerActor('model', model, model.actorOptions);
  await model.load();
  const tuner = router.registerActor('tuner', new TunerActor({ model: address }), TunerActor.actorOptions);
  return { router, tuner, entered };
}

/** Token sequences as a dataset (plain text: no assistant turns, scored whole when the session evaluates). */
function asDataset(train: number[][], validation: number[][], contextSize: number): TrainingDataset {
  const examples = (sequences: number[][], prefix: string) =>
    sequences.map((tokens, i) => ({ id: `${prefix}${i}`, tokens, assistantSpans: [], assistantTokens: 0 }));
  const count = (sequences: number[][]) => sequences.reduce((sum, s) => sum + s.length, 0);
  return {
    train: examples(train, 't'),
    validation: examples(validation, 'v'),
    overlong: [],
    counts: {
      examples: train.length + validation.length,
      trainExamples: train.length,
      validationExamples: validation.length,
      trainTokens: count(train),
      validationTokens: count(validation),
      assistantTokens: 0,
    },
    validationSplit: 0,
    seed: 0,
    contextSize,
  };
}

/**
 * The runtime side: `startTraining` on the TunerActor, streamed, timed from the session entering
 * `training` (the trainer's `started`) to it entering `evaluating` (the trained GGUF in place).
 */
async function trainThroughRuntime(runtime: Runtime, job: TrainingJob): Promise<SideResult> {
  const { router, tuner, entered } = runtime;
  entered.clear();
  const requested = performance.now();
  let pid = 0;
  let cpuMs = 0;
  const streamed = await router.streamAsk(
    tuner,
    TunerMessage.StartTraining,
    {
      dataset: asDataset(job.train, job.validation ?? [], job.contextSize),
      config: { epochs: job.epochs, learningRate: job.learningRate, loraRank: 8 },
      options: {
        contextSize: job.contextSize,
        minLearningRate: job.minLearningRate as number,
        threads: job.threads as number,
        seed: job.seed as number,
        shuffle: false,
        outputPath: job.outputPath,
      },
    },
    {
      timeout: Number.POSITIVE_INFINITY,
      onChunk: async (event) => {
        if (event.type !== 'progress' || (event.data as { stage?: string }).stage !== 'training') return;
        const progress = event.data as unknown as TrainingProgress;
        if (pid === 0) pid = (await router.ask<TrainingStatus>(tuner, TunerMessage.GetTrainingStatus, null)).trainerPid ?? 0;
        // The last sample before the child exits (only its save is left).
        if (progress.epochComplete && progress.epoch === progress.epochs) cpuMs = processCpuMs(pid);
      },
    },
  );
  if (streamed.error) throw streamed.error;
  const result = streamed.data as unknown as TrainingResult;
  const started = entered.get('training:training') ?? Number.NaN;
  const trainingMs = (entered.get('training:evaluating') ?? Number.NaN) - started;
  const tokens = (result.history.length - 1) * result.info.stepsPerEpoch * result.info.microBatchSize;
  return {
    tokens,
    trainingMs,
    tokensPerSecond: (tokens * 1000) / trainingMs,
    cpuMs,
    trainLoss: result.trainLoss,
    validationLoss: result.validationLoss ?? Number.NaN,
    startupMs: started - requested,
  };
}

/** The direct side: `trainingDirect.ts` in its own process. */
async function trainDirectly(jobFile: string): Promise<SideResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', DIRECT, jobFile], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as SideResult;
}

/** utime + stime of a live process, in ms (0 where /proc is not available). */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // fields 14 and 15 of stat(5); USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

async function main(): Promise<void> {
  const modelPath = await ensureTinyModel();
  // Tokenize here, then let node-llama-cpp go: the trainers load llama.cpp in their own processes.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
  const paragraphs = readFileSync(CORPUS, 'utf8')
    .split(/\n\s*\n/)
    .filter((paragraph) => paragraph.trim() !== '');
  const tokenize = (text: string): Token[] => [model.tokens.bos!, ...model.tokenize(text), model.tokens.eos!];
  const split = Math.round(paragraphs.length * 0.75);
  const train = paragraphs.slice(0, split).map(tokenize);
  const validation = paragraphs.slice(split).map(tokenize);
  await model.dispose();
  await llama.dispose();

  const directory = await mkdtemp(join(tmpdir(), 'llama-actors-bench-training-'));
  try {
    const base: TrainingJob = {
      baseModelPath: modelPath,
      outputPath: join(directory, 'runtime.gguf'),
      train,
      validation,
      contextSize: CONTEXT,
      epochs: EPOCHS,
      learningRate: 1e-3,
      minLearningRate: 1e-4,
      threads: THREADS,
      seed: 1,
      shuffle: false, // the direct script does not shuffle: same order, same losses
      keepContextLength: false, // nor does it patch the saved header
    };
    const { job: resolved } = await preflightTrainingJob(base);
    const directJob: ResolvedTrainingJob = { ...resolved, outputPath: join(directory, 'direct.gguf') };
    const jobFile = join(directory, 'job.json');
    await writeFile(jobFile, JSON.stringify(directJob));

    const trainTokens = train.reduce((sum, sequence) => sum + sequence.length, 0);
    const validationTokens = validation.reduce((sum, sequence) => sum + sequence.length, 0);
    console.log(
      `llama-actors training benchmark: node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ` +
        `tiny model (${modelPath}), ${trainTokens} train / ${validationTokens} validation tokens (demo corpus), context ${resolved.contextSize}, ` +
        `stride ${resolved.stride}, batch ${resolved.batchSize}, micro-batch ${resolved.microBatchSize}, ${EPOCHS} epochs, AdamW, threads ${THREADS}, ${ROUNDS} rounds (median)\n`,
    );

    const actors = await startRuntime(modelPath);
    const runtime: SideResult[] = [];
    const direct: SideResult[] = [];
    const foreign = new ForeignLoad();
    for (let round = 0; round < ROUNDS; round++) {
      const sides = [
        async () => direct.push(await foreign.measure(() => trainDirectly(jobFile), (result) => result.cpuMs)),
        async () => runtime.push(await foreign.measure(() => trainThroughRuntime(actors, base), (result) => result.cpuMs)),
      ];
      if (round % 2 === 1) sides.reverse();
      for (const side of sides) await side();
      const r = runtime.at(-1)!;
      const d = direct.at(-1)!;
      console.log(
        `round ${round + 1}: runtime ${Math.round(r.tokensPerSecond)} tokens/s, direct ${Math.round(d.tokensPerSecond)} tokens/s, ratio ${round3(r.tokensPerSecond / d.tokensPerSecond)}`,
      );
    }

    const runtimeRate = median(runtime.map((result) => result.tokensPerSecond));
    const directRate = median(direct.map((result) => result.tokensPerSecond));
    const sameLosses = runtime.every(
      (result, index) => result.trainLoss === direct[index]!.trainLoss && result.validationLoss === direct[index]!.validationLoss,
    );
    const range = (results: SideResult[]): string =>
      `${Math.round(Math.min(...results.map((r) => r.tokensPerSecond)))}..${Math.round(Math.max(...results.map((r) => r.tokensPerSecond)))}`;
    console.log();
    console.table({
      'direct: plain script, sync calls, no callbacks': {
        'tokens/s': Math.round(directRate),
        'min..max': range(direct),
        'ms (timed span)': Math.round(median(direct.map((r) => r.trainingMs))),
        '÷ direct': 1,
        'final train / validation loss': `${round3(direct[0]!.trainLoss)} / ${round3(direct[0]!.validationLoss)}`,
      },
      'runtime: TunerActor startTraining (child, progress over IPC and the router)': {
        'tokens/s': Math.round(runtimeRate),
        'min..max': range(runtime),
        'ms (timed span)': Math.round(median(runtime.map((r) => r.trainingMs))),
        '÷ direct': round3(runtimeRate / directRate),
        'final train / validation loss': `${round3(runtime[0]!.trainLoss)} / ${round3(runtime[0]!.validationLoss)}`,
      },
    });
    const perRound = runtime.map((result, index) => result.tokensPerSecond / direct[index]!.tokensPerSecond);
    console.log(
      `runtime ÷ direct: ${round3(runtimeRate / directRate)} (target ≥ 0.95): ${runtimeRate / directRate >= 0.95 ? 'met' : 'NOT met'}; ` +
        `median of per-round ratios ${round3(median(perRound))}; same losses on both sides: ${sameLosses ? 'yes' : 'NO'}`,
    );
    console.log(
      `runtime start-up (request to the session in \`training\`: fork, tsx, model load, data layout, llama_opt_init), not in the timed span: median ${Math.round(median(runtime.map((r) => r.startupMs ?? 0)))} ms`,
    );
    console.log(`other processes kept cores busy (average): ${foreign.coresText}`);
    await actors.router.dispose();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
