import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ModelMessage } from '../actors/ModelActor/types.js';
import type { Address } from '../messaging/address.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { ModelLoadCrashedError } from './entityErrors.js';
import type { Store } from './store/Store.js';
import { EntityCollection, type ModelLoadMarker } from './types.js';

/** Size and modification time of a model file, if it can be read. */
async function fileIdentity(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
}

/** Tells this process's load markers from those of earlier processes, which may have had the same pid. */
const PROCESS_ID = randomUUID();

/**
 * @internal The {@link ModelLoadMarker}s of a {@link ModelManager}: a load is recorded in the store
 * (`model-loads`) before it starts and removed when it ends, loaded or failed; a marker another
 * process left means that process died loading the model.
 */
export class ModelLoadMarkers {
  /** Models whose load marker is still to be cleared, by id. */
  private readonly loadsSettling = new Map<string, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly router: MessageRouter,
    private readonly logger: Logger,
  ) {}

  /** Deletes the marker of `id` left by another process (one of this process is a load still under way here, not a crash: it stays). */
  async clearCrashed(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const marker = await this.store.get<ModelLoadMarker>(EntityCollection.ModelLoads, id, options);
    if (marker && marker.process !== PROCESS_ID) await this.store.delete(EntityCollection.ModelLoads, id, options);
  }

  /**
   * Refuses a model whose last load killed its process, while its file is the one that did it;
   * records this load otherwise. A file changed since (size or modification time) is a new
   * attempt, not the same crash again.
   */
  async beginLoad(id: string, path: string): Promise<ModelLoadMarker> {
    const file = await fileIdentity(path);
    const previous = await this.store.get<ModelLoadMarker>(EntityCollection.ModelLoads, id);
    if (previous && previous.process !== PROCESS_ID) {
      const sameFile = previous.file === undefined || (file !== undefined && previous.file.size === file.size && previous.file.mtimeMs === file.mtimeMs);
      if (sameFile) {
        this.logger.error({ model: id, pid: previous.pid, startedAt: previous.startedAt }, 'model load crashed an earlier process');
        throw new ModelLoadCrashedError(id, previous.startedAt, previous.pid);
      }
      this.logger.warn({ model: id, pid: previous.pid }, 'model load crashed an earlier process, but its file has changed since: loading it');
    }
    const marker: ModelLoadMarker = {
      model: id,
      pid: process.pid,
      process: PROCESS_ID,
      attempt: randomUUID(),
      startedAt: Date.now(),
      ...(file ? { file } : {}),
    };
    await this.store.put(EntityCollection.ModelLoads, id, marker);
    return marker;
  }

  /**
   * Removes the marker once the actor answers `info`, which it does when the load has ended:
   * with the model's info, or with the load's typed error. Any answer means this process lived
   * through the load.
   */
  watchLoad(model: Address, marker: ModelLoadMarker): void {
    const settled = this.router
      .ask(model, ModelMessage.Info, null, { timeout: Infinity })
      .catch(() => undefined)
      .then(() => this.endLoad(marker))
      .catch((error: unknown) => this.logger.warn({ err: error, model: marker.model }, 'could not clear the model load marker'));
    this.loadsSettling.set(marker.model, settled);
    void settled.finally(() => {
      if (this.loadsSettling.get(marker.model) === settled) this.loadsSettling.delete(marker.model);
    });
  }

  /** Resolves once the load of model `id` watched by {@link watchLoad} has ended and its marker is cleared. */
  async loadSettled(id: string): Promise<void> {
    await this.loadsSettling.get(id);
  }

  /** Removes `marker` if it is still the stored one (a later attempt's marker stays). */
  async endLoad(marker: ModelLoadMarker): Promise<void> {
    const stored = await this.store.get<ModelLoadMarker>(EntityCollection.ModelLoads, marker.model);
    if (stored?.attempt === marker.attempt) await this.store.delete(EntityCollection.ModelLoads, marker.model);
  }
}
