import { describe, expect, it } from 'vitest';
import { address, ErrorCode, InvalidAddressError, isAddress, MAX_ACTOR_ID_LENGTH, parseAddress } from '../../src/index.js';

describe('address', () => {
  it('wraps an id as @(id)', () => {
    expect(address('my-session')).toBe('@(my-session)');
    expect(address('models/llama_3.2:q4')).toBe('@(models/llama_3.2:q4)');
  });

  it('parses both forms back to the id', () => {
    expect(parseAddress('@(my-session)')).toBe('my-session');
    expect(parseAddress('my-session')).toBe('my-session');
    expect(parseAddress(address('x.y'))).toBe('x.y');
  });

  it.each([
    ['', 'the id is empty'],
    ['@()', 'the id is empty'],
    ['@(', 'an address is written @(id)'],
    ['@foo', 'an address is written @(id)'],
    ['a b', 'letters, digits'],
    ['@(a b)', 'letters, digits'],
    ['-leading', 'starting with a letter or digit'],
    ['@(nested(x))', 'letters, digits'],
  ])('rejects %j with a typed error', (input, reason) => {
    let caught: unknown;
    try {
      parseAddress(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidAddressError);
    expect((caught as InvalidAddressError).code).toBe(ErrorCode.InvalidAddress);
    expect((caught as Error).message).toContain(reason);
  });

  it('rejects non-strings and over-long ids, naming the numbers', () => {
    expect(() => parseAddress(42 as unknown as string)).toThrow(InvalidAddressError);
    const long = 'a'.repeat(MAX_ACTOR_ID_LENGTH + 1);
    expect(() => address(long)).toThrow(`the id is ${MAX_ACTOR_ID_LENGTH + 1} characters, limit ${MAX_ACTOR_ID_LENGTH}`);
  });

  it('isAddress recognises only the wrapped form', () => {
    expect(isAddress('@(a)')).toBe(true);
    expect(isAddress('a')).toBe(false);
    expect(isAddress('@(a b)')).toBe(false);
    expect(isAddress(undefined)).toBe(false);
  });
});
