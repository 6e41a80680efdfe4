import { dirname } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ModelIsolation } from '../actors/ModelHost/types.js';
import { ClusterProvider } from '../entities/cluster/ClusterProvider.js';
import { ModelCluster } from '../entities/cluster/ModelCluster.js';
import { WorkerDirectory } from '../entities/cluster/WorkerDirectory.js';
import { ModelManager } from '../entities/ModelManager.js';
import { SessionManager } from '../entities/SessionManager.js';
import type { Store } from '../entities/store/Store.js';
import type { ModelLoadOptions } from '../entities/types.js';
import { describe } from '../messaging/errors.js';
import { MessageRouter } from '../messaging/MessageRouter.js';
import { CliError, type ParsedValues } from './args.js';
import { natsConnectOptions } from './natsFlags.js';
import { openRuntime } from './runtime.js';
import { openChosenStore, type StoreChoice } from './storeFlags.js';
import { openWithoutLocalModel } from './openWithoutLocalModel.js';
import { OpenAICompatibleProvider } from '../entities/OpenAICompatibleProvider.js';
import type { InferenceProvider } from '../entities/InferenceProvider.js';
import { publishRemotes, type RemoteFlag, remoteFlags, startRemotes } from './remoteFlags.js';

/** What `serve` serves: its router, models and sessions, loaded by `load()`. */
export interface ServeTarget {
  readonly router: MessageRouter;
  readonly store: Store;
  readonly models: ModelManager;
  readonly sessions: SessionManager;
  /** Where model files of `POST /models` must be. */
  readonly modelDirs: string[];
  /** The model the banner names (the local one, else the first cluster model). */
  label(): string;
  /** Loads the local model and waits for the first look at the cluster. */
  load(): Promise<void>;
  /** Stops following the cluster, disposes the router and store, closes NATS, releases the data directory. Idempotent. */
  close(): Promise<void>;
}

export interface ServeTargetOptions {
  values: ParsedValues;
  /** `--model`; with `--nats` or `--remote` and no `--model`, no local model. */
  model: string | undefined;
  load: ModelLoadOptions;
  isolation: ModelIsolation;
  dataDir: string | undefined;
  /** `--store`: a FileStore in `dataDir`, or a NatsKvStore on the `--nats` connection. */
  store: StoreChoice;
  logger: Logger;
}

async function connectNatsFlags(values: ParsedValues, logger: Logger): Promise<NatsConnection | undefined> {
  const options = await natsConnectOptions(values);
  if (!options) return undefined;
  options.name = 'llama-actors serve';
  try {
    const nc = await connect(options);
    logger.info({ server: nc.getServer() }, 'connected to NATS');
    return nc;
  } catch (error) {
    throw new CliError(`could not connect to NATS ${String(options.servers)}: ${describe(error)}`, { cause: error });
  }
}

/**
 * `serve`'s models: the local `--model` (loaded in its host), and with `--nats` the cluster's
 * models, each a ClusterModelActor routing to its workers.
 */
export async function openServeTarget(options: ServeTargetOptions): Promise<ServeTarget> {
  const remotes = remoteFlags(options.values);
  const remoteProvider = new OpenAICompatibleProvider();
  const nc = await connectNatsFlags(options.values, options.logger);
  if (!nc) return openLocalTarget(options, remotes, remoteProvider);
  const directory = new WorkerDirectory(nc, { logger: options.logger });
  const provider = new ClusterProvider(directory);
  type Base = Awaited<ReturnType<typeof openWithoutLocalModel>> & { modelId?: string; modelPath?: string; load?: () => Promise<unknown> };
  const shared = openChosenStore(options.store, nc);
  let opened: Base | undefined;
  try {
    opened =
      options.model === undefined
        ? await openWithoutLocalModel({ ...options, command: 'serve' }, [provider, remoteProvider], shared)
        : await openLocalRuntime(options, [provider, remoteProvider], shared);
    await publishRemotes(opened.models, remotes);
  } catch (error) {
    // The runtime owns the shared store once it is open: closing it disposes the store too.
    if (opened) await opened.close().catch(() => {});
    else await shared?.dispose();
    await nc.close();
    throw error;
  }
  const base: Base = opened;
  let cluster: ModelCluster;
  try {
    cluster = await ModelCluster.start({ models: base.models, directory, logger: options.logger });
  } catch (error) {
    await base.close();
    await nc.close();
    throw new CliError(`could not join the cluster: ${describe(error)}`, { cause: error });
  }
  let closing: Promise<void> | undefined;
  return {
    router: base.router,
    store: base.store,
    models: base.models,
    sessions: base.sessions,
    modelDirs: base.modelPath ? [dirname(base.modelPath)] : [],
    label: () => base.modelId ?? remotes[0]?.name ?? cluster.modelIds[0] ?? 'cluster',
    load: async () => {
      await base.load?.();
      await startRemotes(base.models, remotes, options.logger);
      await directory.poll();
      await cluster.settled();
    },
    close: () => {
      closing ??= (async () => {
        await cluster.dispose().catch((error: unknown) => options.logger.warn({ err: error }, 'cluster: dispose failed'));
        await base.close();
        if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
      })();
      return closing;
    },
  };
}

/** The runtime of the local `--model`, with these providers beside the local one. */
function openLocalRuntime(options: ServeTargetOptions, extraProviders: InferenceProvider[], shared: Store | undefined) {
  return openRuntime({
    model: options.model,
    load: options.load,
    isolation: options.isolation,
    dataDir: options.dataDir,
    logger: options.logger,
    command: 'serve',
    extraProviders,
    ...(shared ? { store: shared } : {}),
  });
}

/** Without `--nats`: the local `--model` and the `--remote` models, or only the remote ones when there is no `--model`. */
async function openLocalTarget(options: ServeTargetOptions, remotes: RemoteFlag[], remoteProvider: OpenAICompatibleProvider): Promise<ServeTarget> {
  // storeFlag refused `--store nats` without `--nats` already.
  if (options.model === undefined && remotes.length > 0) {
    const base = await openWithoutLocalModel({ ...options, command: 'serve' }, [remoteProvider], undefined);
    try {
      await publishRemotes(base.models, remotes);
    } catch (error) {
      await base.close();
      throw error;
    }
    return { ...base, modelDirs: [], label: () => remotes[0]?.name ?? 'remote', load: () => startRemotes(base.models, remotes, options.logger) };
  }
  const runtime = await openLocalRuntime(options, [remoteProvider], undefined);
  try {
    await publishRemotes(runtime.models, remotes);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  return {
    ...runtime,
    modelDirs: [dirname(runtime.modelPath)],
    label: () => runtime.modelId,
    load: async () => {
      await runtime.load();
      await startRemotes(runtime.models, remotes, options.logger);
    },
    close: () => runtime.close(),
  };
}
