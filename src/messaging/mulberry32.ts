/**
 * mulberry32: a small seeded generator of uniform floats in [0, 1), the same on every platform, for
 * whatever must replay from a seed (training-data order, token windows, soak and storm schedules).
 *
 * @example
 * ```ts
 * const random = mulberry32(42);
 * const pick = Math.floor(random() * 10);
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
