import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ModelMessage, type ModelInfo } from '../actors/ModelActor/types.js';
import { EntityCollection, type ModelEntity, type ModelLoadOptions } from '../entities/types.js';
import { ModelManager } from '../entities/ModelManager.js';
import { SessionManager } from '../entities/SessionManager.js';
import { FileStore } from '../entities/store/FileStore.js';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import type { Store } from '../entities/store/Store.js';
import { type Address, address, MAX_ACTOR_ID_LENGTH } from '../messaging/address.js';
import type { InspectionEvent } from '../messaging/inspection.js';
import { MessageRouter } from '../messaging/MessageRouter.js';
import { CliError } from './args.js';

/** The provider every CLI command publishes its model under. */
export const PROVIDER_ID = 'local';

export interface RuntimeOptions {
  /** `--model`; falls back to `LLAMA_ACTORS_MODEL`, then the generated demo model. */
  model: string | undefined;
  load: ModelLoadOptions;
  /** A FileStore there; `undefined` keeps everything in memory. */
  dataDir: string | undefined;
  logger: Logger;
  /** Where the progress bar and the "loaded" line go. Defaults to stderr. */
  status?: NodeJS.WriteStream;
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
  /** Disposes the router (generations are aborted, the model freed), then the store. Idempotent. */
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

/** Creates the router and store, publishes provider `local` and the model, and waits for it to load. */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const status = options.status ?? process.stderr;
  const modelPath = await resolveModelPath(options.model);
  const modelId = modelIdFromPath(modelPath);
  const progress = new LoadProgress(status, basename(modelPath));
  const router = new MessageRouter({ logger: options.logger, inspect: progress.inspect });
  const store: Store = options.dataDir ? new FileStore({ dataDir: options.dataDir }) : new MemoryStore();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      progress.end();
      try {
        await router.dispose();
      } finally {
        await store.dispose();
      }
    })();
    return closing;
  };
  try {
    const models = new ModelManager({ router, store });
    const sessions = new SessionManager({ router, store, models });
    await models.publishProvider({ id: PROVIDER_ID, kind: 'local-llama' });
    const wanted = { id: modelId, provider: address(PROVIDER_ID), path: modelPath, load: options.load };
    // Published again only when something changed: republishing would also clear the record of a
    // load that crashed the last process, and a supervisor restarting us would crash on it forever.
    const existing = await models.getModel(modelId).catch(() => undefined);
    if (!(existing && sameModel(existing, wanted))) await models.publishModel(wanted);
    const started = performance.now();
    const ref = await models.ref(modelId);
    const model = ref.address;
    let info: ModelInfo;
    try {
      info = await ref.ask(ModelMessage.Info, null, { timeout: Infinity });
    } finally {
      progress.end();
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status.write(
      `loaded ${modelId} in ${seconds} s: ${info.architecture ?? 'unknown architecture'}, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `${info.slots} slot${info.slots === 1 ? '' : 's'} x ${info.contextSize} tokens, ${info.threads} thread${info.threads === 1 ? '' : 's'}, ${info.engine} engine` +
        `${info.localBuild ? ', local llama.cpp build' : ''} (${modelPath})\n`,
    );
    return { router, store, models, sessions, model, modelId, modelPath, info, close };
  } catch (error) {
    await close().catch(() => {});
    if (error instanceof CliError) throw error;
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'MODEL_LOAD_CRASHED' && options.dataDir) {
      throw new CliError(`${message}: not loading it again (delete ${join(options.dataDir, EntityCollection.ModelLoads, `${modelId}.json`)} to try anyway)`);
    }
    throw new CliError(`could not load ${modelPath}: ${code ? `${code}: ` : ''}${message ?? String(error)}`);
  }
}
