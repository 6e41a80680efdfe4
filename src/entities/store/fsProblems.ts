/**
 * @internal Turns the file-system errors of `FileStore` into the plain words its typed errors
 * carry: which path is at fault and what is wrong with it, so a log line is enough to repair the
 * data directory without reproducing the failure.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ActorError, describe } from '../../messaging/errors.js';
import { type StoreCallSite, type StoreFsProblem, StoreIoError, StoreWriteError } from './storeErrors.js';

/**
 * @internal What the store's file-system helpers throw: the raw error and the path it concerns,
 * so that each public call can turn it into a typed error naming itself (helpers such as the
 * creation of a collection's directory are shared by several calls and cannot name one).
 */
export class FsFailure extends Error {
  constructor(
    readonly path: string,
    override readonly cause: unknown,
    /** Set where the store found the problem itself rather than the OS. */
    readonly problem?: StoreFsProblem,
  ) {
    super(problem?.text ?? `${path}: ${describe(cause)}`, { cause });
  }
}

/**
 * @internal The typed error a failed call rejects with: typed errors pass through; an
 * {@link FsFailure} or a raw fs error at `path` becomes a `StoreIoError` (`read`) or a
 * `StoreWriteError` (`write`) naming `site`.
 */
export async function storeFailure(error: unknown, site: StoreCallSite, kind: 'read' | 'write', path: string): Promise<ActorError> {
  if (error instanceof ActorError) return error;
  const failure = error instanceof FsFailure ? error : new FsFailure(path, error);
  const problem = failure.problem ?? (await fsProblem(failure.path, failure.cause));
  return kind === 'read'
    ? new StoreIoError(site, problem, failure.cause)
    : new StoreWriteError(failure.path, failure.cause, site, problem);
}

/** @internal The errno code of `error`, if it has one. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * @internal Describes `error`, raised while the store accessed `path`. For ENOTDIR it stats the
 * ancestors to name the one that is not a directory: Node names only the path asked for, which
 * does not tell anyone which file is in the way.
 */
export async function fsProblem(path: string, error: unknown): Promise<StoreFsProblem> {
  const code = errnoCode(error);
  switch (code) {
    case 'EISDIR':
      return { path, code, text: `${path} is a directory` };
    case 'ENOTDIR': {
      const culprit = await nonDirectoryAncestor(path);
      return { path: culprit, code, text: `${culprit} is not a directory` };
    }
    case 'EEXIST':
      // Only mkdir raises it here: the path is taken by something that is not a directory.
      return { path, code, text: `${path} exists and is not a directory` };
    case 'ELOOP':
      return { path, code, text: `${path} is a loop of symbolic links` };
    case 'EACCES':
    case 'EPERM':
      return { path, code, text: `${path} is not accessible (permission denied)` };
    case 'EROFS':
      return { path, code, text: `${path} is on a read-only file system` };
    case 'ENOSPC':
      return { path, code, text: `no space left on the device of ${path}` };
    default: {
      // Node's messages start with the code ("EIO: i/o error, read"); it is reported apart.
      const detail = describe(error);
      const words = code !== undefined && detail.startsWith(`${code}: `) ? detail.slice(code.length + 2) : detail;
      return { path, code, text: `${path}: ${words}` };
    }
  }
}

/** @internal `problem` for a value that exists but is not a regular file (a FIFO, a socket, a device). */
export function notRegularFile(path: string): StoreFsProblem {
  return { path, code: undefined, text: `${path} is not a regular file` };
}

/**
 * `path` or its nearest ancestor that exists and is not a directory. Walking up, the first path
 * that exists decides: the ones below it failed because of it (`readdir` of a file fails on the
 * file itself; `open` of `<file>/x.json` on the file above it). If it turns out to be a directory
 * (someone repaired the tree meanwhile), `path` is the best guess left.
 */
async function nonDirectoryAncestor(path: string): Promise<string> {
  for (let candidate = path; ; candidate = dirname(candidate)) {
    try {
      return (await stat(candidate)).isDirectory() ? path : candidate;
    } catch {
      if (dirname(candidate) === candidate) return path;
    }
  }
}
