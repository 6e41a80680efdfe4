import type { LlamaNativeOptions } from './locateLlamaBins.js';
import type { TrainingProgress, TrainingStartInfo } from './TrainerMessage.js';

/** Callbacks and settings of {@link runTraining}. */
export interface RunTrainingOptions {
  /** Called once the model is loaded and the data laid out. */
  onStarted?: (info: TrainingStartInfo) => void;
  /** Called during and at the end of every epoch. */
  onProgress?: (progress: TrainingProgress) => void;
  /**
   * Called after every training micro-batch, on the JavaScript thread, while native training waits:
   * keep it cheap. The trainer process uses it to exit as soon as its parent is gone.
   */
  onMicroBatch?: () => void;
  /**
   * How `llama_opt_epoch` (and the save) are called: `async` on a koffi worker thread, which keeps
   * the event loop free; `sync` on this thread, which blocks it for a whole epoch. `sync` is faster
   * (measured 4-8 % at 2 threads on 2 cores, see bench/RESULTS.md) and is what the trainer process
   * uses: it has nothing else to do, its progress still goes out during the epoch (IPC writes are
   * attempted synchronously) and it is stopped by a signal. Defaults to `async`.
   */
  nativeCalls?: NativeCallMode;
  /** Where the llama.cpp libraries are. Defaults to node-llama-cpp's prebuilt ones. */
  native?: LlamaNativeOptions;
}

/** Where the long native calls run: this thread (`sync`) or a koffi worker thread (`async`); see {@link RunTrainingOptions.nativeCalls}. */
export type NativeCallMode = 'sync' | 'async';
