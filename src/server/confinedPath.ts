import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { InvalidArgumentError } from '../messaging/errors.js';
import { HttpError } from './httpErrors.js';

/**
 * @internal The real path (symbolic links resolved) of `path`, if it lies inside one of `dirs`
 * (also resolved); `PATH_NOT_ALLOWED` otherwise. Checking the name alone is not enough: a link
 * inside an allowed directory can point anywhere. A path that does not exist yet (a file to be
 * written) is resolved through its nearest existing ancestor, so a linked parent cannot escape either.
 */
export async function confinedPath(dirs: readonly string[], path: unknown, what: string): Promise<string> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`${what} path must be a non-empty string`);
  if (path.includes('\0')) throw new InvalidArgumentError(`${what} path must not contain a NUL character`);
  const real = await realPathOf(resolve(path));
  const roots = await Promise.all(dirs.map((dir) => realPathOf(resolve(dir))));
  const allowed = roots.some((root) => {
    const inside = relative(root, real);
    return inside.length > 0 && !inside.startsWith('..') && !isAbsolute(inside);
  });
  if (!allowed) {
    throw new HttpError('PATH_NOT_ALLOWED', `${what} path is outside the allowed directories (${dirs.join(', ') || 'none configured'})`);
  }
  return real;
}

/** `realpath` of the longest existing prefix of `absolute`, with the rest appended. */
async function realPathOf(absolute: string): Promise<string> {
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return join(await realpath(current), ...rest.reverse());
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      // Only a missing component may be skipped; anything else (a loop, no permission) refuses the path.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) {
        if (parent === current) return absolute;
        throw new HttpError('PATH_NOT_ALLOWED', `path cannot be resolved (${code ?? 'error'})`);
      }
      rest.push(basename(current));
      current = parent;
    }
  }
}

/** Keys whose string value names a file or directory. */
const PATH_KEY = /^(path|file|dir|directory|adapter)$|(Path|File|Dir|Directory)$/;
/** Deeper than this is not a payload any route takes; refusing it bounds the walk. */
const MAX_DEPTH = 32;

/**
 * @internal A copy of a message payload with every path-valued field, wherever it is nested
 * (`path`, `adapter`, `adapters[].path`, `options.outputPath`, any `...Path`, `...Dir`, `...File`),
 * replaced by its confined real path: the generic actor endpoints forward payloads to any actor,
 * so whatever field a message may grow, none can reach outside `dirs`.
 */
export async function confinePayloadPaths(dirs: readonly string[], payload: unknown): Promise<unknown> {
  return confineValue(dirs, payload, undefined, 0);
}

async function confineValue(dirs: readonly string[], value: unknown, key: string | undefined, depth: number): Promise<unknown> {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError(`payload is nested deeper than ${MAX_DEPTH} levels`);
  if (typeof value === 'string') return key !== undefined && PATH_KEY.test(key) ? confinedPath(dirs, value, key) : value;
  if (Array.isArray(value)) {
    // An array under a path key (`adapters: ['a.gguf']`, `files: [...]`) holds paths too.
    const inherited = key !== undefined && (PATH_KEY.test(key) || /^(adapters|files|paths)$/.test(key)) ? 'path' : undefined;
    return Promise.all(value.map((item) => confineValue(dirs, item, typeof item === 'string' ? inherited : undefined, depth + 1)));
  }
  if (typeof value !== 'object' || value === null) return value;
  const entries = await Promise.all(
    Object.entries(value).map(async ([name, item]) => [name, await confineValue(dirs, item, name, depth + 1)] as const),
  );
  return Object.fromEntries(entries);
}
