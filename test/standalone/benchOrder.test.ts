import { describe, expect, it } from 'vitest';
import { ordered } from '../../bench/args.js';

// The benchmarks compare variants run one after another on a machine whose speed drifts: a variant
// that always ran first (or always right after another) would be favoured or penalised.
describe('bench ordered()', () => {
  it('alternates two variants: AB, BA, BA, AB', () => {
    const orders = Array.from({ length: 8 }, (_, round) => ordered(['A', 'B'], round).join(''));
    expect(orders).toEqual(['AB', 'BA', 'BA', 'AB', 'AB', 'BA', 'BA', 'AB']);
  });

  it('runs three variants in all six orders in six rounds, each first twice', () => {
    const orders = Array.from({ length: 6 }, (_, round) => ordered(['A', 'B', 'C'], round).join(''));
    expect(new Set(orders).size).toBe(6);
    for (const variant of 'ABC') expect(orders.filter((order) => order.startsWith(variant))).toHaveLength(2);
  });

  it('leaves the entries as they were', () => {
    const entries = ['A', 'B', 'C'];
    ordered(entries, 4);
    expect(entries).toEqual(['A', 'B', 'C']);
  });
});
