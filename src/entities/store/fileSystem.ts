/**
 * @internal The file-system steps of `FileStore`: durable directory creation, directory fsync,
 * removal of stale temporaries and reading a value file. Each throws {@link FsFailure} naming the
 * path it was working on; the calling store method turns that into its typed error.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode, FsFailure, notRegularFile } from './fsProblems.js';

/** @internal Suffix of the hidden files a `put` writes before renaming them into place. */
export const TEMPORARY_SUFFIX = '.tmp';

/**
 * Opening a FIFO for reading blocks until a writer appears, which would hang a `get` forever on
 * a damaged data directory; non-blocking, the open returns at once and fstat tells what it is.
 * Platforms without the flag (Windows) have no FIFOs to fear.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * @internal The text of the regular file `file`. A directory (EISDIR) or anything else that is
 * not a regular file (a FIFO, a socket, a device) is refused rather than read.
 */
export async function readRegularFile(file: string, signal: AbortSignal | undefined): Promise<string> {
  let handle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (error) {
    throw new FsFailure(file, error);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) {
      throw new FsFailure(file, undefined, { path: file, code: 'EISDIR', text: `${file} is a directory` });
    }
    if (!stats.isFile()) throw new FsFailure(file, undefined, notRegularFile(file));
    return await handle.readFile({ encoding: 'utf8', ...(signal ? { signal } : {}) });
  } catch (error) {
    throw error instanceof FsFailure ? error : new FsFailure(file, error);
  } finally {
    await handle.close();
  }
}

/** @internal `mkdir -p`, then fsyncs the parent of every directory it created so the new entries are durable. */
export async function makeDirectory(dir: string): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new FsFailure(dir, error);
  }
  if (first === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await syncDirectory(dirname(created));
    if (created === first || dirname(created) === created) break;
  }
}

/**
 * @internal Removes the hidden `.tmp` files a killed writer left in `dir`, as far as it can. It
 * never fails: those files are hidden from every call, so leaving them costs only disk space,
 * while failing would let one unreadable (or read-only) collection refuse every call on all the
 * others.
 */
export async function removeTemporaries(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const stale = names.filter((name) => name.startsWith('.') && name.endsWith(TEMPORARY_SUFFIX));
  if (stale.length === 0) return;
  await Promise.all(stale.map((name) => unlink(join(dir, name)).catch(() => undefined)));
  await syncDirectory(dir).catch(() => undefined);
}

/**
 * @internal fsyncs a directory, which makes a rename or unlink in it durable. Some platforms and
 * file systems cannot open or fsync a directory at all (Windows, some network mounts); there the
 * rename is as durable as the platform allows, so those refusals are not errors.
 */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (['EISDIR', 'EINVAL', 'ENOTSUP', 'EPERM'].includes(errnoCode(error) ?? '')) return;
    throw new FsFailure(dir, error);
  } finally {
    await handle?.close();
  }
}
