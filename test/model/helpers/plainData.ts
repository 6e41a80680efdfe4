import { expect } from 'vitest';

/**
 * Why `value` is not plain data, one line per problem with its path (`$.usage.at`); empty when it
 * is. Plain data is what crosses a process or machine boundary unchanged: plain objects (prototype
 * `Object.prototype`: a clone of a null-prototype object has `Object.prototype`; own enumerable
 * string keys only, no accessors), arrays (no holes),
 * strings, finite numbers, booleans and `null`. Everything else is a problem: functions, class
 * instances (`Date`, `Map`, `Error`, `AbortSignal`, `Buffer`...), `NaN` and `±Infinity` (JSON makes
 * them `null`), `bigint`, symbols, cycles.
 *
 * `undefined` is allowed as the value of an object's field, and only there: it means "absent"
 * (`usage.timeToFirstTokenMs: undefined`, `lastEvaluation: undefined`). JSON leaves such a field out
 * and `structuredClone` keeps it, and either way a reader on the other side reads `undefined`, so the
 * JSON comparison of {@link expectPlainData} treats a field set to `undefined` as a missing one.
 * `undefined` anywhere else (the whole value, an array element, which JSON turns into `null`) is a
 * problem.
 */
export function plainDataProblems(value: unknown, path = '$', seen: Set<object> = new Set()): string[] {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return [];
    case 'number':
      return Number.isFinite(value) ? [] : [`${path}: ${String(value)} is not a finite number`];
    case 'undefined':
      return [`${path}: undefined outside an object field`];
    case 'object':
      break;
    default:
      return [`${path}: a ${typeof value} is not data`];
  }
  if (value === null) return [];
  if (seen.has(value)) return [`${path}: a cycle`];
  seen.add(value);
  const problems: string[] = [];
  try {
    if (Array.isArray(value)) {
      if (Object.getPrototypeOf(value) !== Array.prototype) problems.push(`${path}: an array subclass`);
      for (let index = 0; index < value.length; index++) {
        if (!Object.hasOwn(value, index)) problems.push(`${path}[${index}]: a hole`);
        else problems.push(...plainDataProblems(value[index], `${path}[${index}]`, seen));
      }
      return problems;
    }
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'a null prototype';
      return [`${path}: an instance of ${name}, not a plain object`];
    }
    if (Object.getOwnPropertySymbols(value).length > 0) problems.push(`${path}: symbol keys`);
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(value))) {
      const at = `${path}.${key}`;
      if (descriptor.get !== undefined || descriptor.set !== undefined) problems.push(`${at}: an accessor`);
      else if (!descriptor.enumerable) problems.push(`${at}: not enumerable (clones and JSON drop it)`);
      else if (descriptor.value !== undefined) problems.push(...plainDataProblems(descriptor.value, at, seen));
    }
    return problems;
  } finally {
    seen.delete(value);
  }
}

/**
 * Fails unless `value` is plain data ({@link plainDataProblems}) that comes back equal from
 * `structuredClone` (strictly: same types, same fields) and from a JSON round trip (fields set to
 * `undefined` count as absent there, as documented above).
 */
export function expectPlainData(value: unknown, what: string): void {
  const problems = plainDataProblems(value);
  if (problems.length > 0) throw new Error(`${what} is not plain data:\n  ${problems.join('\n  ')}`);
  expect(structuredClone(value), `${what}: structuredClone`).toStrictEqual(value);
  const text = JSON.stringify(value);
  expect(typeof text, `${what}: JSON.stringify gives text`).toBe('string');
  expect(JSON.parse(text), `${what}: JSON round trip`).toEqual(value);
}
