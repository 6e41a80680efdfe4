/**
 * A small seeded pseudo-random generator (mulberry32). Generated models must be byte-identical
 * across runs and machines, which `Math.random` cannot give; quality needs are modest (random
 * weights), so a 32-bit state is plenty and keeps large tensors fast to fill.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /**
   * A generator for one named stream under `seed`, so that each tensor's values depend only on the
   * seed and its name, not on the order in which tensors happen to be generated.
   */
  static forStream(seed: number, name: string): Prng {
    return new Prng(fnv1a(`${seed >>> 0}:${name}`));
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b_79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** A uniform float in [-scale, scale). */
  symmetric(scale: number): number {
    return (this.next() * 2 - 1) * scale;
  }

  /** Fills `target` with uniform values in [-scale, scale). */
  fillSymmetric(target: Float32Array, scale: number): void {
    for (let i = 0; i < target.length; i++) target[i] = (this.next() * 2 - 1) * scale;
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c_9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x0100_0193);
  }
  return hash >>> 0;
}
