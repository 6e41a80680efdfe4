import { confinedPath } from './confinedPath.js';

/**
 * @internal A copy of `payload` with every field a protocol declares as a path (`path`,
 * `adapters[].path`, `options.outputPath`: dotted, `[]` for each element of an array) replaced by
 * its confined real path; `PATH_NOT_ALLOWED` for one outside `dirs`. A declared field that is
 * absent, or not a string, is left as it is.
 */
export async function confineDeclaredPaths(dirs: readonly string[], payload: unknown, paths: readonly string[]): Promise<unknown> {
  let result = payload;
  for (const path of paths) result = await confineAt(dirs, result, path.split('.'), path);
  return result;
}

async function confineAt(dirs: readonly string[], value: unknown, segments: string[], whole: string): Promise<unknown> {
  const [head, ...rest] = segments;
  // A leaf that is not a string is not a path (`adapter` may be `{ path }`, declared as `adapter.path`
  // too); the actor refuses a path field of the wrong type itself.
  if (head === undefined) return typeof value === 'string' ? confinedPath(dirs, value, whole) : value;
  if (typeof value !== 'object' || value === null) return value;
  const each = head.endsWith('[]');
  const key = each ? head.slice(0, -2) : head;
  const record = value as Record<string, unknown>;
  if (!Object.hasOwn(record, key) || record[key] === undefined) return value;
  const field = record[key];
  let next: unknown;
  if (each) {
    if (!Array.isArray(field)) return value;
    next = await Promise.all(field.map((item) => confineAt(dirs, item, rest, whole)));
  } else {
    next = await confineAt(dirs, field, rest, whole);
  }
  return Array.isArray(value) ? value : { ...record, [key]: next };
}
