import type { ChildProcess } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AbortedError } from '../../../messaging/errors.js';
import { forkPackageModule } from '../../forkPackageModule.js';
import type { LlamaNativeOptions } from './llamaNative.js';
import { preflightTrainingJob } from './preflightTrainingJob.js';
import {
  type TrainerChildMessage,
  type TrainerJobMessage,
  TrainerMessage,
  type TrainingOutcome,
  type TrainingProgress,
  type TrainingStartInfo,
} from './TrainerMessage.js';
import { F32_COPY_SUFFIX, PARTIAL_SUFFIX, type ResolvedTrainingJob, type TrainingJob } from './TrainingJob.js';
import { TrainerBusyError, TrainerCrashedError, TrainerFailedError, TrainingErrorCode } from './trainingErrors.js';

/** Options of a {@link TrainerProcess}. */
export interface TrainerProcessOptions {
  /** How long a stopped trainer gets to exit after SIGTERM before SIGKILL, in ms. Defaults to `2000`. */
  killGraceMs?: number;
  /** Lines of the trainer's stderr kept for {@link TrainerCrashedError}. Defaults to `40`. */
  stderrLines?: number;
  /** Receives every line the trainer writes (llama.cpp logs to stderr). Defaults to dropping them. */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Where the llama.cpp libraries are, passed to the trainer. Defaults to node-llama-cpp's prebuilt ones. */
  native?: LlamaNativeOptions;
  /** Environment of the trainer process. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Per-run callbacks and cancellation of {@link TrainerProcess.run}. */
export interface TrainerRunOptions {
  /** Aborting stops the run like {@link TrainerProcess.stop}; `run` then rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Called once the trainer process is started, with its pid. */
  onSpawn?: (pid: number) => void;
  /** Called once the model is loaded and the data laid out. */
  onStarted?: (info: TrainingStartInfo) => void;
  /** Called during and at the end of every epoch. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Called when the trained GGUF is in place (before the LoRA extraction, if the job asks for one). */
  onSaved?: (outputPath: string) => void;
}

/** The run in progress: checked first (no child yet), then supervised. */
interface ActiveRun {
  child: ChildProcess | undefined;
  stopping: boolean;
  /** Resolves when the run has finished, whatever its outcome (and its files are cleaned up). */
  readonly settled: Promise<void>;
}

/**
 * Runs training jobs in a child process, one at a time. The child (`trainerWorker`) drives
 * llama.cpp's training API; a crash there (llama.cpp aborts the process on a failed assertion)
 * rejects the run with `TRAINER_CRASHED` instead of taking this process down, and {@link stop}
 * ends training at once by killing the child.
 *
 * Every check that needs no native code ({@link preflightTrainingJob}) runs before the child is
 * started, so a bad job fails fast with a typed error. The trained model is written to
 * `<outputPath>.partial` and renamed when complete; a stopped or crashed run removes the partial
 * file, so nothing at `outputPath` ever looks complete without being so.
 *
 * @example
 * ```ts
 * const trainer = new TrainerProcess();
 * const outcome = await trainer.run(
 *   { baseModelPath: 'base.gguf', outputPath: 'trained.gguf', train, validation, contextSize: 256, epochs: 4, learningRate: 1e-3 },
 *   { onProgress: (p) => console.log(`epoch ${p.epoch}/${p.epochs} loss ${p.trainLoss.toFixed(3)}`) },
 * );
 * console.log(outcome.initialValidationLoss, '→', outcome.validationLoss);
 * ```
 */
export class TrainerProcess {
  readonly #options: Required<Omit<TrainerProcessOptions, 'onLog' | 'native' | 'env'>> &
    Pick<TrainerProcessOptions, 'onLog' | 'native' | 'env'>;
  #active: ActiveRun | undefined;

  constructor(options: TrainerProcessOptions = {}) {
    this.#options = { killGraceMs: 2000, stderrLines: 40, ...options };
  }

  /** Whether a job is being checked or running. */
  get running(): boolean {
    return this.#active !== undefined;
  }

  /** Pid of the running trainer process, if any. */
  get pid(): number | undefined {
    return this.#active?.child?.pid;
  }

  /**
   * Checks the job, starts a trainer process for it and resolves with the outcome once the trained
   * GGUF is at `job.outputPath`.
   *
   * @throws the typed errors of {@link preflightTrainingJob} (before any process starts),
   *   {@link TrainerBusyError}, `ABORTED` (stopped or aborted), {@link TrainerCrashedError}, or
   *   {@link TrainerFailedError} with the code the trainer reported (e.g. `MODEL_LOAD_FAILED`).
   */
  async run(input: TrainingJob, options: TrainerRunOptions = {}): Promise<TrainingOutcome> {
    if (this.#active !== undefined) throw new TrainerBusyError(this.#active.child?.pid);
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError('training', { cause: signal.reason });
    let resolveSettled!: () => void;
    const active: ActiveRun = {
      child: undefined,
      stopping: false,
      settled: new Promise<void>((resolve) => (resolveSettled = resolve)),
    };
    // Taken before the (async) preflight, so a second run is refused and a stop counts from here.
    this.#active = active;
    const onAbort = (): void => void this.stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    let killOnExit: (() => void) | undefined;
    try {
      const { job } = await preflightTrainingJob(input);
      if (active.stopping) throw new AbortedError('training', { cause: signal?.reason });
      const child = this.#spawn();
      active.child = child;
      // A child must not outlive this process (it would also exit on its own when the IPC channel closes).
      killOnExit = () => child.kill('SIGKILL');
      process.on('exit', killOnExit);
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
      return await this.#supervise(active, child, job, options);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (killOnExit !== undefined) process.off('exit', killOnExit);
      this.#active = undefined;
      resolveSettled();
    }
  }

  /**
   * Stops the running job, if any: SIGTERM, then SIGKILL after `killGraceMs`. Resolves once the
   * process is gone and its partial files are removed; the run rejects with `ABORTED`. A job still
   * being checked is not started.
   */
  async stop(): Promise<void> {
    const active = this.#active;
    if (active === undefined) return;
    if (!active.stopping) {
      active.stopping = true;
      const child = active.child;
      if (child !== undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), this.#options.killGraceMs);
        timer.unref();
        void active.settled.finally(() => clearTimeout(timer));
      }
    }
    await active.settled;
  }

  #spawn(): ChildProcess {
    const env = { ...(this.#options.env ?? process.env) };
    if (this.#options.native?.binsDir !== undefined) env.LLAMA_ACTORS_LLAMA_BINS = this.#options.native.binsDir;
    return forkPackageModule(import.meta.url, 'trainerWorker', { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  }

  #supervise(active: ActiveRun, child: ChildProcess, job: ResolvedTrainingJob, options: TrainerRunOptions): Promise<TrainingOutcome> {
    const stderrTail: string[] = [];
    const keep = (line: string, stream: 'stdout' | 'stderr'): void => {
      this.#options.onLog?.(line, stream);
      if (stream === 'stderr') {
        stderrTail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
        if (stderrTail.length > this.#options.stderrLines) stderrTail.shift();
      }
    };
    readLines(child.stdout, (line) => keep(line, 'stdout'));
    readLines(child.stderr, (line) => keep(line, 'stderr'));

    return new Promise<TrainingOutcome>((resolve, reject) => {
      let outcome: TrainingOutcome | undefined;
      let failure: Error | undefined;
      child.on('message', (message: TrainerChildMessage) => {
        switch (message.type) {
          case TrainerMessage.Started: {
            const { type: _type, ...info } = message;
            callSafely(() => options.onStarted?.(info));
            break;
          }
          case TrainerMessage.Progress: {
            const { type: _type, ...progress } = message;
            callSafely(() => options.onProgress?.(progress));
            break;
          }
          case TrainerMessage.Saved:
            callSafely(() => options.onSaved?.(message.outputPath));
            break;
          case TrainerMessage.Done: {
            const { type: _type, ...result } = message;
            outcome = result;
            break;
          }
          case TrainerMessage.Error:
            failure = new TrainerFailedError(message.code, message.message);
            break;
        }
      });
      child.once('error', (error) => {
        failure ??= new TrainerFailedError(TrainingErrorCode.TrainerFailed, `cannot run the trainer process: ${error.message}`);
      });
      child.once('close', (code, signal) => {
        void (async () => {
          if (outcome !== undefined && code === 0) {
            resolve(outcome);
            return;
          }
          await removePartialFiles(job.outputPath);
          if (job.lora !== undefined && child.pid !== undefined) await removeWriterPartials(job.lora.outputPath, child.pid);
          if (active.stopping) reject(new AbortedError('training'));
          else if (failure !== undefined) reject(failure);
          else reject(new TrainerCrashedError(code, signal, [...stderrTail]));
        })();
      });
      const message: TrainerJobMessage = { type: TrainerMessage.Job, job };
      child.send(message, (error) => {
        if (error !== null) failure ??= new TrainerFailedError(TrainingErrorCode.TrainerFailed, `cannot send the job to the trainer: ${error.message}`);
      });
    });
  }
}

async function removePartialFiles(outputPath: string): Promise<void> {
  await Promise.all([rm(outputPath + PARTIAL_SUFFIX, { force: true }), rm(outputPath + F32_COPY_SUFFIX, { force: true })]);
}

/** The GGUF writer's temporary files of one process for `path` (`<path>.<pid>-<random>.partial`). */
async function removeWriterPartials(path: string, pid: number): Promise<void> {
  const prefix = `${basename(path)}.${pid}-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    names.filter((name) => name.startsWith(prefix) && name.endsWith(PARTIAL_SUFFIX)).map((name) => rm(join(dirname(path), name), { force: true })),
  );
}

function readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (pending !== '') onLine(pending);
  });
}

/** A throwing progress consumer must not break supervision of the child. */
function callSafely(callback: () => void): void {
  try {
    callback();
  } catch {
    // Deliberately ignored: the consumer's problem, not the training's.
  }
}
