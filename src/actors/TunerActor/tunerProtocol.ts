import { defineProtocol, Lane } from '../../messaging/protocol.js';
import type { AdapterListing, ApplyAdapterRequest, RemoveAdapterRequest, SetAdapterScaleRequest } from '../ModelActor/types.js';
import type { AdapterInfo } from '../ModelActor/validateAdapter.js';
import {
  type EvaluateRequest,
  type EvaluationProgress,
  type EvaluationResult,
  type PrepareTrainingDataRequest,
  type ResolvedTrainingConfig,
  type StartTrainingRequest,
  type TrainingConfig,
  type TrainingDataset,
  type TrainingMetrics,
  type TrainingProgressEvent,
  type TrainingResult,
  type TrainingStatus,
  TunerMessage,
  type TunerStatus,
} from './types.js';

/** Payload of {@link TunerMessage.ValidateTrainingConfig}. */
export interface ValidateTrainingConfigRequest {
  config?: TrainingConfig;
}

/** What a TunerActor answers, message by message (see {@link TunerMessage} for what each does). */
export interface TunerProtocol {
  [TunerMessage.ValidateAdapter]: { payload: { path: string }; reply: AdapterInfo };
  [TunerMessage.ApplyAdapter]: { payload: ApplyAdapterRequest; reply: AdapterListing };
  [TunerMessage.RemoveAdapter]: { payload: RemoveAdapterRequest; reply: AdapterListing };
  [TunerMessage.SetAdapterScale]: { payload: SetAdapterScaleRequest; reply: AdapterListing };
  [TunerMessage.ListAdapters]: { payload: null | Record<string, never>; reply: AdapterListing };
  [TunerMessage.PrepareTrainingData]: { payload: PrepareTrainingDataRequest; reply: TrainingDataset };
  [TunerMessage.ValidateTrainingConfig]: { payload: ValidateTrainingConfigRequest; reply: ResolvedTrainingConfig };
  [TunerMessage.Evaluate]: {
    payload: EvaluateRequest;
    reply: EvaluationResult;
    stream: { data: EvaluationResult; progress: EvaluationProgress };
  };
  [TunerMessage.Status]: { payload: null | Record<string, never>; reply: TunerStatus };
  [TunerMessage.StartTraining]: {
    payload: StartTrainingRequest;
    reply: TrainingResult;
    stream: { data: TrainingResult; progress: TrainingProgressEvent };
  };
  [TunerMessage.StopTraining]: { payload: null | Record<string, never>; reply: TrainingStatus };
  [TunerMessage.GetTrainingStatus]: { payload: null | Record<string, never>; reply: TrainingStatus };
  [TunerMessage.GetTrainingMetrics]: { payload: null | Record<string, never>; reply: TrainingMetrics };
}

/**
 * The TunerActor's protocol (kind `tuner`). What changes the tuner's state, or the model's adapter
 * set through it, runs in the exclusive lane, one at a time, in order: `startTraining` (its check,
 * the new session and the model's info are one atomic step; the long run then releases the lane),
 * and the adapter changes. Evaluations, reads and control run in the concurrent lane: several
 * evaluations wait for the model's slots at once (its queue bounds them), and `status`,
 * `getTrainingStatus` and `stopTraining` answer during a long evaluation or training.
 * Every operation may be sent by the generic HTTP routes: the path fields are confined to the
 * configured directories; a training without `options.outputPath` writes into the tuner's own
 * `outputDir` (not chosen by the caller).
 */
export const tunerProtocol = defineProtocol<TunerProtocol>('tuner', {
  [TunerMessage.ValidateAdapter]: { lane: Lane.Concurrent, exposed: true, paths: ['path'] },
  [TunerMessage.ApplyAdapter]: { lane: Lane.Exclusive, exposed: true, paths: ['path'] },
  [TunerMessage.RemoveAdapter]: { lane: Lane.Exclusive, exposed: true, paths: ['path'] },
  [TunerMessage.SetAdapterScale]: { lane: Lane.Exclusive, exposed: true, paths: ['path'] },
  [TunerMessage.ListAdapters]: { lane: Lane.Concurrent, exposed: true },
  [TunerMessage.PrepareTrainingData]: { lane: Lane.Concurrent, exposed: true },
  [TunerMessage.ValidateTrainingConfig]: { lane: Lane.Concurrent, exposed: true },
  // Concurrent: an evaluation only reads (its last result is one assignment), and several may wait
  // for the model's slots at once, where the model's queue bounds them (QUEUE_FULL). `adapter` is a
  // path or `{ path, scale }`: both forms are declared.
  [TunerMessage.Evaluate]: { lane: Lane.Concurrent, stream: true, exposed: true, paths: ['adapters[].path', 'adapter', 'adapter.path'] },
  [TunerMessage.Status]: { lane: Lane.Concurrent, exposed: true },
  [TunerMessage.StartTraining]: { lane: Lane.Exclusive, stream: true, exposed: true, paths: ['options.outputPath', 'options.adapterPath'] },
  [TunerMessage.StopTraining]: { lane: Lane.Concurrent, exposed: true },
  [TunerMessage.GetTrainingStatus]: { lane: Lane.Concurrent, exposed: true },
  [TunerMessage.GetTrainingMetrics]: { lane: Lane.Concurrent, exposed: true },
});
