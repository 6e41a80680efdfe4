import type { NatsConnection } from '@nats-io/nats-core';
import { type Service, Svcm } from '@nats-io/services';
import type { Logger } from 'pino';
import { modelProtocol } from '../../actors/ModelActor/modelProtocol.js';
import { ModelMessage } from '../../actors/ModelActor/types.js';
import { parseAddress } from '../../messaging/address.js';
import { InvalidArgumentError } from '../../messaging/errors.js';
import type { MessageRouter } from '../../messaging/MessageRouter.js';
import { type NatsActorServer, serveNats } from '../../messaging/transport/nats/serveNats.js';
import { ActorKind, entityName, kindAddress } from '../actorNames.js';
import {
  checkWorkerId,
  DEFAULT_SUBJECT_PREFIX,
  WORKER_SERVICE_NAME,
  WORKER_SERVICE_VERSION,
  workerConnectSubject,
  WorkerMetadata,
  workerLoadSubject,
} from './clusterSubjects.js';
import type { WorkerLoadReport } from './workerLoad.js';

/** Options of {@link serveModelWorker}. */
export interface ModelWorkerOptions {
  /** The worker's unique id (a subject token: letters, digits, `_`, `-`). Required. */
  workerId: string;
  /** The ids of the models it serves (their actors, `model/<id>`, must be registered in the router). Required, at least one. */
  models: readonly string[];
  /** First token of the cluster's subjects. Defaults to `la`. */
  subjectPrefix?: string;
  /** How long a model's status may take when the load is asked for, in ms. Defaults to `1_000`. */
  statusTimeoutMs?: number;
  /** See {@link ServeNatsOptions.idleTimeoutMs}. Defaults to `10_000`. */
  idleTimeoutMs?: number;
  /** pino logger. Defaults to the router's. */
  logger?: Logger;
  /** Aborts the start (the service registration). */
  signal?: AbortSignal;
}

/** A running model worker, as {@link serveModelWorker} returns it. */
export interface ModelWorker extends AsyncDisposable {
  readonly workerId: string;
  /** Its direct connect subject. */
  readonly subject: string;
  /** The model ids it serves. */
  readonly models: readonly string[];
  /** Its `@nats-io/services` service. */
  readonly service: Service;
  /** The serveNats exporter on its subject. */
  readonly server: NatsActorServer;
  /** Each model's load now (what the service stats carry); `signal` aborts the status asks. */
  load(options?: { signal?: AbortSignal }): Promise<WorkerLoadReport>;
  /** Stops the service (front ends stop finding it), closes every connection (their calls are aborted). Idempotent. */
  dispose(): Promise<void>;
}

/**
 * Serves a router's models to a NATS cluster as a worker: a {@link serveNats} on the worker's own
 * connect subject (`la.worker.<id>.connect`) that exports only its models' actors (a call to any
 * other actor is refused with `ACTOR_NOT_FOUND`), and a `@nats-io/services` service
 * (`llama-actors-worker`) whose info metadata names the worker, its subject and its models and whose
 * stats carry each model's load (slots, busy slots, queue depth), so that front ends find it through
 * `$SRV.INFO` / `$SRV.STATS` and pick a replica by load.
 *
 * @throws {InvalidArgumentError} for a bad worker id, no models, or a model that is not registered.
 * @example
 * ```ts
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * await using worker = await serveModelWorker(router, nc, { workerId: 'gpu-1', models: ['qwen'] });
 * ```
 */
export async function serveModelWorker(router: MessageRouter, nc: NatsConnection, options: ModelWorkerOptions): Promise<ModelWorker> {
  const workerId = checkWorkerId(options.workerId);
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  const models = options.models.map((model) => entityName(ActorKind.Model, model));
  if (models.length === 0) throw new InvalidArgumentError(`worker ${workerId} needs at least one model`);
  const addresses = models.map((id) => kindAddress(ActorKind.Model, id));
  for (const model of addresses) if (!router.has(model)) throw new InvalidArgumentError(`worker ${workerId}: model ${model} is not registered`);
  const logger = options.logger ?? router.logger;
  const subject = workerConnectSubject(workerId, prefix);
  const exported = new Set(addresses.map((model) => parseAddress(model)));
  const timeout = options.statusTimeoutMs ?? 1_000;

  const load = async (loadOptions: { signal?: AbortSignal } = {}): Promise<WorkerLoadReport> => {
    const report: WorkerLoadReport = { worker: workerId, models: {} };
    await Promise.all(
      models.map(async (id, i) => {
        const status = await router
          .ref(addresses[i] ?? kindAddress(ActorKind.Model, id), modelProtocol)
          .ask(ModelMessage.Status, null, { timeout, ...(loadOptions.signal ? { signal: loadOptions.signal } : {}) })
          .catch(() => undefined);
        report.models[id] = status
          ? { slots: status.slots, busySlots: status.busySlots, queueDepth: status.queueDepth, state: status.state }
          : { slots: 0, busySlots: 0, queueDepth: 0, state: 'unresponsive' };
      }),
    );
    return report;
  };

  const server = serveNats(router, nc, {
    subject,
    queue: subject,
    actors: (id) => exported.has(id),
    logger,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  let service: Service;
  try {
    if (options.signal?.aborted) throw options.signal.reason;
    service = await new Svcm(nc).add({
      name: WORKER_SERVICE_NAME,
      version: WORKER_SERVICE_VERSION,
      description: `llama-actors model worker ${workerId}`,
      metadata: { [WorkerMetadata.Worker]: workerId, [WorkerMetadata.Subject]: subject, [WorkerMetadata.Models]: models.join(',') },
      statsHandler: () => load(),
    });
    service.addEndpoint('load', {
      subject: workerLoadSubject(workerId, prefix),
      handler: (error, msg) => {
        if (error) return;
        void load().then((report) => msg.respond(JSON.stringify(report)));
      },
    });
    // The subscriptions registered at the server before this resolves: a front end that polls
    // right after finds the worker and can connect.
    await nc.flush();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  logger.info({ worker: workerId, subject, models }, 'model worker serving');

  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      await service.stop().catch((error: unknown) => logger.debug({ err: error }, 'worker: service stop failed'));
      await server.dispose();
    })();
    return disposing;
  };
  return { workerId, subject, models, service, server, load, dispose, [Symbol.asyncDispose]: dispose };
}
