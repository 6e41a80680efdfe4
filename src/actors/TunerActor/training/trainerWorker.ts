/**
 * Entry point of the trainer child process that {@link TrainerProcess} forks. It receives one
 * `job` message over IPC, trains with {@link runTraining}, reports `started` / `progress`, then
 * `done` or `error`, and exits. Native code runs here rather than in the runtime's process because a
 * failed `GGML_ASSERT` aborts the whole process, and because a stop must end training at once: the
 * parent simply kills this process.
 *
 * Not meant to be run by hand; it exits with code 2 when started without an IPC channel.
 */
import { ActorError } from '../../../messaging/errors.js';
import { extractLora } from './extractLora.js';
import { runTraining } from './runTraining.js';
import {
  type TrainerChildMessage,
  type TrainerJobMessage,
  TrainerMessage,
} from './TrainerMessage.js';
import { TrainingErrorCode } from './trainingErrors.js';

if (process.send === undefined) {
  console.error('trainerWorker must be started by TrainerProcess (child_process.fork with an IPC channel)');
  process.exit(2);
}

// An orphaned trainer must not keep burning the CPU. Between epochs the closed channel says so;
// during one (native calls block the event loop) a changed parent pid does, checked every micro-batch.
const parentPid = process.ppid;
process.on('disconnect', () => process.exit(3));
const exitIfOrphaned = (): void => {
  if (process.ppid !== parentPid) process.exit(3);
};

process.once('message', (message: TrainerJobMessage) => {
  if (message?.type !== TrainerMessage.Job) {
    void finish({ type: TrainerMessage.Error, code: TrainingErrorCode.TrainerFailed, message: `expected a job message, got ${JSON.stringify(message)}` }, 1);
    return;
  }
  runTraining(message.job, {
    onStarted: (info) => send({ type: TrainerMessage.Started, ...info }),
    onProgress: (progress) => send({ type: TrainerMessage.Progress, ...progress }),
    onMicroBatch: exitIfOrphaned,
    // Measured faster than koffi's async calls; this process has no other use for its event loop.
    nativeCalls: 'sync',
  })
    .then(async (outcome) => {
      send({ type: TrainerMessage.Saved, outputPath: outcome.outputPath });
      const lora = message.job.lora;
      if (lora === undefined) return outcome;
      return {
        ...outcome,
        lora: await extractLora({ baseModelPath: message.job.baseModelPath, trainedModelPath: outcome.outputPath, ...lora }),
      };
    })
    .then(
    (outcome) => finish({ type: TrainerMessage.Done, ...outcome }, 0),
    (error: unknown) =>
      finish(
        {
          type: TrainerMessage.Error,
          code: error instanceof ActorError ? error.code : TrainingErrorCode.TrainerFailed,
          message: error instanceof Error ? error.message : String(error),
        },
        1,
      ),
  );
});

function send(message: TrainerChildMessage): void {
  process.send?.(message);
}

/** Sends the last message and exits once it is flushed (exiting at once could drop it). */
async function finish(message: TrainerChildMessage, code: number): Promise<void> {
  await new Promise<void>((resolve) => {
    if (process.send === undefined || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
  process.exit(code);
}
