import { stat } from 'node:fs/promises';
import type { LlamaModel } from 'node-llama-cpp';
import { type AdapterInfo, validateAdapter } from './validateAdapter.js';

/**
 * @internal Adapters validated against the model, by absolute path. Reading an adapter's tensor
 * table on every request that names it would cost more than the request; a file that changed
 * (another mtime) is validated again, and one that cannot be stat'ed is never trusted from cache.
 */
export class AdapterValidationCache {
  private readonly infos = new Map<string, { mtimeMs: number; info: AdapterInfo }>();

  /** Validates an adapter against the loaded model, once per file version. */
  async validated(path: string, model: LlamaModel, signal?: AbortSignal): Promise<AdapterInfo> {
    const mtimeMs = await stat(path).then((s) => s.mtimeMs, () => -1);
    const cached = this.infos.get(path);
    if (cached && cached.mtimeMs === mtimeMs && mtimeMs >= 0) return cached.info;
    const info = await validateAdapter(path, model.fileInfo, signal ? { signal } : {});
    this.infos.set(path, { mtimeMs, info });
    return info;
  }
}
