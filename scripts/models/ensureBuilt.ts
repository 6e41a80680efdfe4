import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The sidecar recorded next to a generated file: what produced it, so a stale file is rebuilt. */
interface Sidecar {
  readonly version: number;
  readonly params: unknown;
  readonly bytes: number;
  readonly buildMs: number;
}

/** Builds in progress in this process, so concurrent callers share one build instead of racing. */
const inFlight = new Map<string, Promise<string>>();

/**
 * Returns `path` once it holds a file built by `build` for exactly `version` and `params`,
 * building it first if needed.
 *
 * The record lives in a sidecar (`foo.gguf` → `foo.json`) written only after the file is complete,
 * and removed before a rebuild starts, so a file is trusted only when a finished build vouched
 * for it. `build` must itself write atomically (GgufWriter does), which also makes two processes
 * building the same file at once harmless: the last complete rename wins.
 */
export function ensureBuilt(
  path: string,
  version: number,
  params: unknown,
  build: (path: string) => Promise<unknown>,
): Promise<string> {
  const pending = inFlight.get(path);
  if (pending) return pending;
  const promise = buildIfStale(path, version, params, build).finally(() => inFlight.delete(path));
  inFlight.set(path, promise);
  return promise;
}

/** The sidecar path for a generated file: its name with the extension replaced by `.json`. */
function sidecarPath(path: string): string {
  return path.replace(/\.[^./]*$/, '') + '.json';
}

async function buildIfStale(
  path: string,
  version: number,
  params: unknown,
  build: (path: string) => Promise<unknown>,
): Promise<string> {
  const sidecar = sidecarPath(path);
  if (await isFresh(path, sidecar, version, params)) return path;

  await mkdir(dirname(path), { recursive: true });
  await rm(sidecar, { force: true });
  const started = performance.now();
  await build(path);
  const record: Sidecar = {
    version,
    params,
    bytes: (await stat(path)).size,
    buildMs: Math.round(performance.now() - started),
  };
  const temporary = `${sidecar}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
  await writeFile(temporary, JSON.stringify(record, null, 2) + '\n');
  await rename(temporary, sidecar);
  return path;
}

async function isFresh(path: string, sidecar: string, version: number, params: unknown): Promise<boolean> {
  try {
    const record = JSON.parse(await readFile(sidecar, 'utf8')) as Partial<Sidecar>;
    const { size } = await stat(path);
    return (
      record.version === version &&
      JSON.stringify(record.params) === JSON.stringify(params) &&
      record.bytes === size
    );
  } catch {
    return false;
  }
}
