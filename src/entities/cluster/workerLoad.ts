import type { ReplicaLoad } from './chooseReplica.js';

/** What a worker's load endpoint answers, and its service stats carry as endpoint data: per model. */
export interface WorkerLoadReport {
  /** The worker's id. */
  worker: string;
  /** Each served model's load, by model id. */
  models: Record<string, ReplicaLoad & { state: string }>;
}

/** What a front end learns of a worker from its service info. */
export interface WorkerAnnouncement {
  /** The worker's id. */
  worker: string;
  /** Its direct connect subject. */
  subject: string;
  /** The model ids it serves. */
  models: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A load report read from untrusted JSON (a service's stats data); `undefined` when it is not one. */
export function parseLoadReport(value: unknown): WorkerLoadReport | undefined {
  if (!isRecord(value) || typeof value.worker !== 'string' || !isRecord(value.models)) return undefined;
  const models: WorkerLoadReport['models'] = {};
  for (const [id, load] of Object.entries(value.models)) {
    if (!isRecord(load)) continue;
    const { slots, busySlots, queueDepth, state } = load;
    if (typeof slots !== 'number' || typeof busySlots !== 'number' || typeof queueDepth !== 'number') continue;
    models[id] = { slots, busySlots, queueDepth, state: typeof state === 'string' ? state : 'unknown' };
  }
  return { worker: value.worker, models };
}
