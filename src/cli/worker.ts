import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { ModelIsolation } from '../actors/ModelHost/types.js';
import { serveModelWorker } from '../entities/cluster/serveModelWorker.js';
import { checkWorkerId } from '../entities/cluster/clusterSubjects.js';
import { LocalLlamaProvider } from '../entities/LocalLlamaProvider.js';
import { ModelManager } from '../entities/ModelManager.js';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import { address } from '../messaging/address.js';
import { describe } from '../messaging/errors.js';
import { MessageRouter } from '../messaging/MessageRouter.js';
import { CliError, ExitCode, loadFlags, logLevel, MODEL_FLAGS_HELP, MODEL_OPTIONS, parse, type ParsedValues, stringFlag, UsageError } from './args.js';
import { createCliLogger } from './logger.js';
import { NATS_FLAGS_HELP, NATS_OPTIONS, natsConnectOptions } from './natsFlags.js';
import { modelIdFromPath, PROVIDER_ID, resolveModelPath } from './runtime.js';
import { onShutdownSignal } from './signals.js';

export const WORKER_USAGE = `Usage: llama-actors worker --nats URL --model PATH [--model PATH...] [flags]

Serves models to a NATS cluster: each model in a supervised host process of its own (as serve
loads them), reachable on this worker's own subject (la.worker.<id>.connect), which accepts its
models' actors only. The worker registers a NATS service (llama-actors-worker) whose info names its
id, subject and models and whose stats carry each model's load, so that front ends
(llama-actors serve --nats URL) find it and route to it. Several workers serving the same model id
are its replicas. Ctrl-C or SIGTERM stops the service, aborts what runs and exits 0.

Worker flags:
      --name ID          this worker's id, unique in the cluster: letters, digits, '_', '-'
                         (default: <hostname>-<pid>-<random>)
  -m, --model PATH       a GGUF model to serve, repeatable (its id is the file name without .gguf)

${NATS_FLAGS_HELP}

${MODEL_FLAGS_HELP.replace('COMMAND_DEFAULT', 'info')
  .replace(/ {2}-m, --model PATH[^\n]*\n[^\n]*\n/, '')
  .replace(/ {6}--data-dir DIR[^\n]*\n/, '')}

Examples:
  llama-actors worker --nats nats://127.0.0.1:4222 --model ~/models/qwen.gguf --name gpu-1
  LLAMA_ACTORS_NATS_TOKEN=s3cret llama-actors worker --nats tls://nats.internal:4222 --tls-ca ca.pem --model a.gguf --model b.gguf`;

const WORKER_OPTIONS = {
  ...MODEL_OPTIONS,
  ...NATS_OPTIONS,
  model: { type: 'string', short: 'm', multiple: true },
  name: { type: 'string' },
} as const;

/** The default worker id: this host, this pid and a random suffix, as one subject token. */
function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 64) || 'worker';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function workerIdFlag(values: ParsedValues): string {
  const name = stringFlag(values, 'name');
  if (name === undefined) return defaultWorkerId();
  try {
    return checkWorkerId(name);
  } catch (error) {
    throw new UsageError(`--name: ${describe(error)}`);
  }
}

/** The `--model` paths with their ids, each a readable file, no id twice. */
async function workerModels(values: ParsedValues): Promise<Array<{ id: string; path: string }>> {
  const raw = values.model;
  const given = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  if (given.length === 0) throw new UsageError('worker needs at least one --model PATH');
  const models: Array<{ id: string; path: string }> = [];
  for (const entry of given) {
    const path = await resolveModelPath(entry);
    const id = modelIdFromPath(path);
    if (models.some((model) => model.id === id)) throw new UsageError(`two --model files have the id ${id}: rename one`);
    models.push({ id, path });
  }
  return models;
}

async function connectCluster(values: ParsedValues, workerId: string, logger: Logger): Promise<NatsConnection> {
  const options = await natsConnectOptions(values);
  if (!options) throw new UsageError('worker needs --nats URL');
  // How the server's monitoring (connz) names this connection.
  options.name = `llama-actors worker ${workerId}`;
  try {
    const nc = await connect(options);
    logger.info({ server: nc.getServer() }, 'connected to NATS');
    return nc;
  } catch (error) {
    throw new CliError(`could not connect to NATS ${String(options.servers)}: ${describe(error)}`, { cause: error });
  }
}

/** `llama-actors worker`: resolves with the exit code once the worker has stopped. */
export async function worker(args: string[]): Promise<number> {
  const { values } = parse(args, WORKER_OPTIONS);
  if (values.help) {
    process.stdout.write(`${WORKER_USAGE}\n`);
    return ExitCode.Ok;
  }
  if (values['data-dir'] !== undefined) throw new UsageError('worker keeps no data (sessions live on the front end): drop --data-dir');
  if (stringFlag(values, 'nats') === undefined) throw new UsageError('worker needs --nats URL (the NATS server the front ends use)');
  const workerId = workerIdFlag(values);
  const models = await workerModels(values);
  const load = loadFlags(values);
  const logger = await createCliLogger(logLevel(values, 'info'));
  if (stringFlag(values, 'isolation') !== undefined && stringFlag(values, 'isolation') !== ModelIsolation.Process) {
    throw new UsageError('a worker runs each model in a host process of its own: --isolation process only');
  }
  let wake: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const removeSignals = onShutdownSignal((signal) => {
    process.stderr.write(`\n${signal}: stopping the worker (again to force)\n`);
    wake?.();
  });
  const nc = await connectCluster(values, workerId, logger).catch((error: unknown) => {
    removeSignals();
    throw error;
  });
  const router = new MessageRouter({ logger });
  const store = new MemoryStore();
  const manager = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ isolation: ModelIsolation.Process, host: { logLevel: logger.level } })] });
  try {
    await manager.publishProvider({ id: PROVIDER_ID, kind: 'local-llama' });
    for (const model of models) await manager.publishModel({ id: model.id, provider: address(PROVIDER_ID), path: model.path, load });
    const loading = Promise.all(models.map(async (model) => (await manager.ref(model.id)).ask(ModelMessage.Info, null, { timeout: Infinity })));
    loading.catch(() => {});
    const loaded = await Promise.race([loading, stopped.then(() => undefined)]);
    if (!loaded) return ExitCode.Ok;
    await using served = await serveModelWorker(router, nc, { workerId, models: models.map((model) => model.id), logger });
    process.stdout.write(`llama-actors worker ${workerId}: serving ${models.map((model) => model.id).join(', ')} on ${served.subject} (NATS ${nc.getServer()})\n`);
    await Promise.race([stopped, nc.closed()]);
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CliError || error instanceof UsageError) throw error;
    throw new CliError(`worker ${workerId}: ${describe(error)}`, { cause: error });
  } finally {
    await router.dispose();
    await store.dispose();
    if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    removeSignals();
  }
}
