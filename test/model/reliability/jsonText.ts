import fc from 'fast-check';

/**
 * JSON text that `JSON.stringify` cannot produce from a JS value: numbers like `1e999` (which
 * parse to `Infinity`), `-0`, integers past 2^53, and structures nested deeper than
 * `JSON.stringify` can recurse (the server's `JSON.parse` takes them; its own stringify may not).
 * Kept as text and spliced in by {@link toJsonText}.
 */
export class RawJson {
  constructor(
    readonly text: string,
    /** What fast-check prints in a counterexample (a 20 000-deep array would drown the report). */
    readonly label = text.length > 80 ? `${text.slice(0, 40)}…(${text.length} chars)` : text,
  ) {}

  /** The number JSON.parse makes of it, for the token-count clamp; NaN for non-numbers. */
  get numeric(): number {
    return /^[-+\d.eE]+$/.test(this.text) ? Number(this.text) : Number.NaN;
  }

  [fc.toStringMethod](): string {
    return `raw(${this.label})`;
  }
}

/** Serialises a value that may hold {@link RawJson} pieces; everything else as `JSON.stringify` does. */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((item) => toJsonText(item === undefined ? null : item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`).join(',')}}`;
  }
  // Lone surrogates come out escaped (`"\ud800"`): well-formed JSON whose parse gives them back.
  return JSON.stringify(value) ?? 'null';
}

/** Number tokens at the edges of what JSON allows (as text: `1e999` is `Infinity` once parsed). */
export const edgeNumberTokens = [
  '1e999', '-1e999', '1e-999', '-0', '0e0', '1E+2', '9007199254740993', '123456789012345678901234567890',
  '-9223372036854775808', '1.7976931348623157e308', '5e-324', '0.1e1', '4.0000000000000001',
] as const;

/** A deeply nested array or object, `depth` levels (past `JSON.stringify`'s reach from ~10 000). */
export function deepJson(depth: number, kind: 'array' | 'object'): RawJson {
  const [open, close] = kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
  return new RawJson(`${open.repeat(depth)}1${close.repeat(depth)}`, `${kind} nested ${depth} deep`);
}

/** Edge numbers: as JS numbers where JSON.stringify keeps them, as raw tokens where it cannot. */
export const edgeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -10, max: 10 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 0.5, 2 ** 31, 2 ** 32 + 1, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE, 1e21),
  fc.constantFrom(...edgeNumberTokens).map((text) => new RawJson(text)),
);

/** Strings that break naive handling: lone surrogates, RTL overrides, NUL, BOM, line separators, combining marks. */
export const specialStrings = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\u202eevil\u202c', '\u0645\u0631\u062d\u0628\u0627', '\ufeff',
  '\u2028\u2029', 'e\u0301\u0301\u0301', '😀👩‍👩‍👧', '\r\n\r\n', '%00', '%s%n', '../../etc/passwd', '__proto__', 'constructor',
  '<script>alert(1)</script>', '{"nested":"json"}', '\\', '"', '\u001b[2J', 'ｔｉｎｙ', 'TINY', 'tiny ', '\t',
] as const;

/** Text of every kind: short unicode strings, the specials, and long ones (up to past the 1 MiB body limit). */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 3, arbitrary: fc.constantFrom(...specialStrings) },
  { weight: 1, arbitrary: fc.constantFrom(300, 5_000, 60_000, 1_100_000).map((n) => 'word '.repeat(Math.ceil(n / 5)).slice(0, n)) },
);

/** A JSON value of any type (as an unexpected field value), edge numbers and deep nesting included. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: edgeNumber },
  { weight: 2, arbitrary: anyText },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}, [null], { '': '' }, new RawJson('{"__proto__":{"polluted":1},"constructor":{"prototype":1}}')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(50, 5_000, 20_000, 100_000), fc.constantFrom('array' as const, 'object' as const)).map(([d, k]) => deepJson(d, k)) },
);

/** Mostly `good`, sometimes a value of the wrong type: the shape of a field a fuzzed body gets. */
export function field<T>(good: fc.Arbitrary<T>, goodWeight = 5): fc.Arbitrary<T | unknown> {
  return fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: junkValue });
}
