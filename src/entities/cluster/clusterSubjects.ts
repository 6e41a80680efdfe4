import { InvalidArgumentError } from '../../messaging/errors.js';

/** The `@nats-io/services` name every model worker registers under (what front ends look up in `$SRV.INFO`). */
export const WORKER_SERVICE_NAME = 'llama-actors-worker';

/** The service version workers announce. */
export const WORKER_SERVICE_VERSION = '1.0.0';

/** Subjects of the cluster start with this by default. */
export const DEFAULT_SUBJECT_PREFIX = 'la';

/** Metadata keys of a worker's service info. */
export const WorkerMetadata = {
  /** The worker's id. */
  Worker: 'worker',
  /** Its direct connect subject (a `serveNats` of its own, so a front end picks the replica). */
  Subject: 'subject',
  /** Its model ids, comma-separated. */
  Models: 'models',
} as const;

/** A worker id or model id usable as one subject token: letters, digits, `_` and `-`. */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** Checks a worker id: it becomes a subject token. */
export function checkWorkerId(id: string): string {
  if (!TOKEN.test(id)) throw new InvalidArgumentError(`a worker id must be 1-128 letters, digits, '_' or '-', got ${JSON.stringify(id)}`);
  return id;
}

/** The subject a worker serves its models on: `<prefix>.worker.<id>.connect`. */
export function workerConnectSubject(workerId: string, prefix = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.worker.${checkWorkerId(workerId)}.connect`;
}

/** The subject of a worker's load endpoint (its service stats carry the same load): `<prefix>.worker.<id>.load`. */
export function workerLoadSubject(workerId: string, prefix = DEFAULT_SUBJECT_PREFIX): string {
  return `${prefix}.worker.${checkWorkerId(workerId)}.load`;
}
