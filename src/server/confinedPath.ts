import { isAbsolute, relative, resolve } from 'node:path';
import { InvalidArgumentError } from '../messaging/errors.js';
import { HttpError } from './httpErrors.js';

/** @internal `path` resolved, if it lies inside one of `dirs`; `PATH_NOT_ALLOWED` otherwise. */
export function confinedPath(dirs: readonly string[], path: unknown, what: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`${what} path must be a non-empty string`);
  const absolute = resolve(path);
  const allowed = dirs.some((dir) => {
    const inside = relative(dir, absolute);
    return inside.length > 0 && !inside.startsWith('..') && !isAbsolute(inside);
  });
  if (!allowed) {
    throw new HttpError('PATH_NOT_ALLOWED', `${what} path is outside the allowed directories (${dirs.join(', ') || 'none configured'})`);
  }
  return absolute;
}

/**
 * @internal Confines the file paths a message payload may carry (`path`, `adapter`, `adapters[].path`)
 * to `dirs`, so the generic actor endpoints cannot reach files the dedicated ones would refuse.
 */
export function confinePayloadPaths(dirs: readonly string[], payload: unknown): void {
  if (typeof payload !== 'object' || payload === null) return;
  const body = payload as Record<string, unknown>;
  if (body.path !== undefined) confinedPath(dirs, body.path, 'file');
  if (typeof body.adapter === 'string') confinedPath(dirs, body.adapter, 'adapter');
  else if (typeof body.adapter === 'object' && body.adapter !== null) confinedPath(dirs, (body.adapter as { path?: unknown }).path, 'adapter');
  if (Array.isArray(body.adapters)) {
    for (const adapter of body.adapters) confinedPath(dirs, (adapter as { path?: unknown } | null)?.path, 'adapter');
  }
}
