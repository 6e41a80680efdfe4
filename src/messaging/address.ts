import { InvalidAddressError } from './errors.js';

/**
 * An actor's address: its id wrapped as `@(id)`. Branded so that a plain string cannot be passed
 * where an address is meant without going through {@link address} or {@link parseAddress}.
 */
export type Address = `@(${string})` & { readonly __brand: 'Address' };

/** Longest accepted actor id, in characters: room for a kind prefix (`session/`) before a 128-character name. */
export const MAX_ACTOR_ID_LENGTH = 192;

// Ids are path-like names: letters, digits and `._:/-`, starting with a letter or digit. Parentheses
// and whitespace are excluded so that `@(id)` can always be parsed back without ambiguity.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const WRAPPED = /^@\((.*)\)$/s;

function checkId(input: unknown, id: string): string {
  if (id.length === 0) throw new InvalidAddressError(input, 'the id is empty');
  if (id.length > MAX_ACTOR_ID_LENGTH) {
    throw new InvalidAddressError(input, `the id is ${id.length} characters, limit ${MAX_ACTOR_ID_LENGTH}`);
  }
  if (!ID_PATTERN.test(id)) {
    throw new InvalidAddressError(input, 'an id is letters, digits and . _ : / -, starting with a letter or digit');
  }
  return id;
}

/**
 * Makes the address of an actor id.
 *
 * @throws {InvalidAddressError} when the id is empty, too long or has characters outside `[A-Za-z0-9._:/-]`.
 * @example
 * ```ts
 * address('my-session'); // '@(my-session)'
 * ```
 */
export function address(id: string): Address {
  return `@(${checkId(id, id)})` as Address;
}

/**
 * Reads an actor id out of either form, `@(id)` or the bare `id`.
 *
 * @throws {InvalidAddressError} for anything else (`@(`, `@()`, `a b`, a non-string, ...).
 * @example
 * ```ts
 * parseAddress('@(my-session)'); // 'my-session'
 * parseAddress('my-session');    // 'my-session'
 * ```
 */
export function parseAddress(input: string | Address): string {
  if (typeof input !== 'string') throw new InvalidAddressError(input, 'an address is a string');
  const wrapped = WRAPPED.exec(input);
  if (wrapped) return checkId(input, wrapped[1] ?? '');
  if (input.startsWith('@')) throw new InvalidAddressError(input, 'an address is written @(id)');
  return checkId(input, input);
}

/** True when `input` is a well-formed `@(id)` address. */
export function isAddress(input: unknown): input is Address {
  if (typeof input !== 'string') return false;
  const wrapped = WRAPPED.exec(input);
  return wrapped !== null && ID_PATTERN.test(wrapped[1] ?? '') && (wrapped[1]?.length ?? 0) <= MAX_ACTOR_ID_LENGTH;
}
