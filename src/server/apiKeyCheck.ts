import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * @internal A bearer-token check that takes the same time whatever the guess: both sides are
 * hashed to a fixed length first, so neither the key's length nor its first differing byte shows
 * in the response time (`!==` stops at the first difference).
 */
export function bearerCheck(apiKey: string): (authorization: string | undefined) => boolean {
  const expected = createHash('sha256').update(`Bearer ${apiKey}`).digest();
  return (authorization) => {
    const given = createHash('sha256').update(authorization ?? '').digest();
    return timingSafeEqual(given, expected) && authorization !== undefined;
  };
}
