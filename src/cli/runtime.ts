import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ModelMessage, type ModelInfo } from '../actors/ModelActor/types.js';
import { EntityCollection, type ModelEntity, type ModelLoadOptions } from '../entities/types.js';
import { ModelManager } from '../entities/ModelManager.js';
import { LocalLlamaProvider } from '../entities/LocalLlamaProvider.js';
import type { InferenceProvider } from '../entities/InferenceProvider.js';
import { ModelIsolation } from '../actors/ModelHost/types.js';
import { SessionManager } from '../entities/SessionManager.js';
import { FileStore } from '../entities/store/FileStore.js';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import type { Store } from '../entities/store/Store.js';
import { type Address, address, MAX_ACTOR_ID_LENGTH } from '../messaging/address.js';
import type { InspectionEvent } from '../messaging/inspection.js';
import { MessageRouter } from '../messaging/MessageRouter.js';
import { DataDirLockedError } from '../entities/entityErrors.js';
import { kindAddress, ActorKind } from '../entities/actorNames.js';
import { CliError } from './args.js';
import { type DataDirLock, lockDataDir } from './dataDirLock.js';
import { disposeRuntime } from './disposeRuntime.js';

/** The provider every CLI command publishes its model under. */
export const PROVIDER_ID = 'local';

export interface RuntimeOptions {
  /** `--model`; falls back to `LLAMA_ACTORS_MODEL`, then the generated demo model. */
  model: string | undefined;
  load: ModelLoadOptions;
  /** Where the model runs (`--isolation`). Defaults to `'process'`: a supervised model host. */
  isolation?: ModelIsolation;
  /** A FileStore there, locked for this process (see {@link lockDataDir}); `undefined` keeps everything in memory. */
  dataDir: string | undefined;
  logger: Logger;
  /** Where the progress bar and the "loaded" line go. Defaults to stderr. */
  status?: NodeJS.WriteStream;
  /** The command, written in the data directory's lock file. */
  command?: string;
  /** Providers beside `local` (a front end's cluster provider). Defaults to none. */
  extraProviders?: InferenceProvider[];
  /**
   * The store to keep entities in instead of a FileStore in `dataDir` (`serve --store nats`: a
   * NatsKvStore several front ends share); no data-directory lock is taken, since sharing is its
   * point. Disposed with the runtime. Defaults to the FileStore (or memory without `dataDir`).
   */
  store?: Store;
}

/** A router with a loaded model, published as entities, ready to serve or chat. */
export interface Runtime {
  readonly router: MessageRouter;
  readonly store: Store;
  readonly models: ModelManager;
  readonly sessions: SessionManager;
  readonly model: Address;
  readonly modelId: string;
  readonly modelPath: string;
  readonly info: ModelInfo;
  /** Disposes the router (generations are aborted, the model freed), then the store, then releases the data directory. Idempotent. */
  close(): Promise<void>;
}

/** The model's id from its file name: `models/demo.gguf` → `demo`, made a valid address id. */
export function modelIdFromPath(path: string): string {
  const stem = basename(path).replace(/\.gguf$/i, '');
  let id = stem.replace(/[^A-Za-z0-9._:-]+/g, '-');
  if (!/^[A-Za-z0-9]/.test(id)) id = `model-${id}`;
  return id.slice(0, MAX_ACTOR_ID_LENGTH);
}

/**
 * The generated demo model (`scripts/make-models.ts`, outside `src/`, so loaded at run time: directly
 * when running under tsx, else through tsx's `tsImport`).
 */
async function ensureDemoModel(): Promise<string> {
  const url = new URL('../../scripts/make-models.ts', import.meta.url);
  const missing = () =>
    new CliError('no model given and the demo-model generator (scripts/make-models.ts, run by tsx) is not available: pass --model PATH or set LLAMA_ACTORS_MODEL');
  try {
    await stat(url);
  } catch {
    throw missing();
  }
  let module: { ensureDemoModel(): Promise<string> };
  try {
    module = (await import(url.href)) as typeof module;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    try {
      const { tsImport } = await import('tsx/esm/api');
      module = (await tsImport(url.href, import.meta.url)) as typeof module;
    } catch {
      throw missing();
    }
  }
  return module.ensureDemoModel();
}

/** `--model`, else `LLAMA_ACTORS_MODEL`, else the demo model; checked to be a readable file. */
export async function resolveModelPath(model: string | undefined): Promise<string> {
  const given = model ?? (process.env.LLAMA_ACTORS_MODEL || undefined);
  const path = resolve(given ?? (await ensureDemoModel()));
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new CliError(`model file not found: ${path}`);
  if (!info.isFile()) throw new CliError(`model path is not a file: ${path}`);
  return path;
}

/**
 * Shows model loading: a bar on a terminal, fed by the ModelActor's `@actor.state` inspection
 * events (`{ state: 'loading', detail: { progress } }`); nothing on other outputs (the caller prints
 * one line once loaded).
 */
class LoadProgress {
  private active = true;
  private drawn = -1;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
  ) {}

  readonly inspect = (event: InspectionEvent): void => {
    if (!this.active || event.type !== '@actor.state' || event.state !== 'loading' || !this.out.isTTY) return;
    const progress = (event.detail as { progress?: unknown } | undefined)?.progress;
    if (typeof progress === 'number') this.draw(progress);
  };

  private draw(progress: number): void {
    const percent = Math.max(0, Math.min(100, Math.floor(progress * 100)));
    if (percent === this.drawn) return;
    this.drawn = percent;
    if (percent === 100) {
      // Loaded: clear the bar so that log lines and the "loaded" line start on a clean line.
      this.out.write('\r\x1b[2K');
      return;
    }
    const width = 30;
    const filled = Math.round((percent / 100) * width);
    this.out.write(`\r\x1b[2Kloading ${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}%`);
  }

  /** Stops drawing and clears the bar. */
  end(): void {
    this.active = false;
    if (this.drawn >= 0 && this.drawn < 100 && this.out.isTTY) this.out.write('\r\x1b[2K');
  }
}

/** Whether a stored model entity is the one the command line asks for. */
function sameModel(stored: ModelEntity, wanted: ModelEntity): boolean {
  return stored.path === wanted.path && stored.provider === wanted.provider && JSON.stringify(stored.load ?? {}) === JSON.stringify(wanted.load ?? {});
}

/**
 * A router and store with provider `local` and the model published, the model not loaded yet:
 * what `serve` has when it binds its port. `load()` loads the model and gives the {@link Runtime}.
 */
export interface OpenedRuntime {
  readonly router: MessageRouter;
  readonly store: Store;
  readonly models: ModelManager;
  readonly sessions: SessionManager;
  readonly model: Address;
  readonly modelId: string;
  readonly modelPath: string;
  /** Starts the model's actor and waits for its load; closes everything if it fails. */
  load(): Promise<Runtime>;
  /** As {@link Runtime.close}, then releases the data directory's lock. Idempotent. */
  close(): Promise<void>;
}

/** A failure of starting the runtime as a one-line {@link CliError}. */
function cliError(error: unknown, options: RuntimeOptions, modelId: string, modelPath: string): CliError {
  if (error instanceof CliError) return error;
  const { code, message } = error as { code?: string; message?: string };
  if (code === 'MODEL_LOAD_CRASHED' && options.dataDir && !options.store) {
    return new CliError(`${message}: not loading it again (delete ${join(options.dataDir, EntityCollection.ModelLoads, `${modelId}.json`)} to try anyway)`);
  }
  if (error instanceof DataDirLockedError) return new CliError(`${code}: ${message}`, { cause: error });
  return new CliError(`could not load ${modelPath}: ${code ? `${code}: ` : ''}${message ?? String(error)}`, { cause: error });
}

/**
 * Takes the data directory's lock ({@link lockDataDir}: one process per data directory), creates
 * the router and store, and publishes provider `local` and the model; loads nothing.
 */
export async function openRuntime(options: RuntimeOptions): Promise<OpenedRuntime> {
  const status = options.status ?? process.stderr;
  const modelPath = await resolveModelPath(options.model);
  const modelId = modelIdFromPath(modelPath);
  let lock: DataDirLock | undefined;
  try {
    lock = options.dataDir && !options.store ? await lockDataDir(options.dataDir, options.command ?? 'llama-actors') : undefined;
  } catch (error) {
    throw cliError(error, options, modelId, modelPath);
  }
  const progress = new LoadProgress(status, basename(modelPath));
  const router = new MessageRouter({ logger: options.logger, inspect: progress.inspect });
  const store: Store = options.store ?? (options.dataDir ? new FileStore({ dataDir: options.dataDir }) : new MemoryStore());
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      progress.end();
      await disposeRuntime(router, store, lock);
    })();
    return closing;
  };
  const fail = async (error: unknown): Promise<never> => {
    await close().catch(() => {});
    throw cliError(error, options, modelId, modelPath);
  };
  const isolation = options.isolation ?? ModelIsolation.Process;
  const providers = [new LocalLlamaProvider({ isolation, host: { logLevel: options.logger.level } }), ...(options.extraProviders ?? [])];
  const models = new ModelManager({ router, store, providers });
  const sessions = new SessionManager({ router, store, models });
  let publishedHere = false;
  try {
    await models.publishProvider({ id: PROVIDER_ID, kind: 'local-llama' });
    const wanted = { id: modelId, provider: address(PROVIDER_ID), path: modelPath, load: options.load };
    // Published again only when something changed: republishing would also clear the record of a
    // load that crashed the last process, and a supervisor restarting us would crash on it forever.
    const existing = await models.getModel(modelId).catch(() => undefined);
    if (!(existing && sameModel(existing, wanted))) await models.publishModel(wanted);
    publishedHere = existing === undefined;
  } catch (error) {
    return fail(error);
  }
  const model = kindAddress(ActorKind.Model, modelId);
  const load = async (): Promise<Runtime> => {
    try {
      const started = performance.now();
      const ref = await models.ref(modelId);
      let info: ModelInfo;
      try {
        info = await ref.ask(ModelMessage.Info, null, { timeout: Infinity });
        await models.loadSettled(modelId);
      } finally {
        progress.end();
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      status.write(
        `loaded ${modelId} in ${seconds} s: ${info.architecture ?? 'unknown architecture'}, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB, ` +
          `${info.slots} slot${info.slots === 1 ? '' : 's'} x ${info.contextSize} tokens, ${info.threads} thread${info.threads === 1 ? '' : 's'}, ${info.engine} engine` +
          `${info.localBuild ? ', local llama.cpp build' : ''} (${modelPath})\n`,
      );
      return { router, store, models, sessions, model: ref.address, modelId, modelPath, info, close };
    } catch (error) {
      // A file that never loaded is not left behind as a model of the data directory.
      if (publishedHere && (error as { code?: string }).code !== 'MODEL_LOAD_CRASHED') await models.deleteModel(modelId).catch(() => {});
      return fail(error);
    }
  };
  return { router, store, models, sessions, model, modelId, modelPath, load, close };
}

/** {@link openRuntime}, then the model loaded. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  return (await openRuntime(options)).load();
}
