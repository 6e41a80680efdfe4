import type { Logger } from 'pino';
import type { ModelIsolation } from '../actors/ModelHost/types.js';
import type { InferenceProvider } from '../entities/InferenceProvider.js';
import { LocalLlamaProvider } from '../entities/LocalLlamaProvider.js';
import { ModelManager } from '../entities/ModelManager.js';
import { SessionManager } from '../entities/SessionManager.js';
import { FileStore } from '../entities/store/FileStore.js';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import type { Store } from '../entities/store/Store.js';
import { describe } from '../messaging/errors.js';
import { MessageRouter } from '../messaging/MessageRouter.js';
import { CliError } from './args.js';
import { type DataDirLock, lockDataDir } from './dataDirLock.js';
import { disposeRuntime } from './disposeRuntime.js';
import { PROVIDER_ID } from './runtime.js';

/** What {@link openWithoutLocalModel} needs. */
export interface WithoutLocalModelOptions {
  /** A FileStore there, locked for this process; `undefined` keeps everything in memory (or in `shared`). */
  dataDir: string | undefined;
  isolation: ModelIsolation;
  logger: Logger;
  /** The command, written in the data directory's lock file. */
  command: string;
}

/**
 * @internal A router, store, models and sessions with no local model: a front end of the cluster or
 * of remote providers only (`serve --nats` or `--remote` without `--model`, `chat --remote`). The
 * local provider is published all the same, so `POST /models` can add a local model later. With
 * `shared` (a NatsKvStore) no data-directory lock is taken.
 */
export async function openWithoutLocalModel(options: WithoutLocalModelOptions, extra: InferenceProvider[], shared: Store | undefined) {
  let lock: DataDirLock | undefined;
  try {
    lock = options.dataDir && !shared ? await lockDataDir(options.dataDir, options.command) : undefined;
  } catch (error) {
    throw new CliError(`${(error as { code?: string }).code ?? 'DATA_DIR'}: ${describe(error)}`, { cause: error });
  }
  const router = new MessageRouter({ logger: options.logger });
  const store: Store = shared ?? (options.dataDir ? new FileStore({ dataDir: options.dataDir }) : new MemoryStore());
  const local = new LocalLlamaProvider({ isolation: options.isolation, host: { logLevel: options.logger.level } });
  const models = new ModelManager({ router, store, providers: [local, ...extra] });
  const sessions = new SessionManager({ router, store, models });
  const close = (): Promise<void> => disposeRuntime(router, store, lock);
  try {
    await models.publishProvider({ id: PROVIDER_ID, kind: 'local-llama' });
  } catch (error) {
    await close();
    throw error;
  }
  return { router, store, models, sessions, close };
}
