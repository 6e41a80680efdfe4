import { describe, expect, it } from 'vitest';
import { main } from '../../examples/tuner.js';
import { getTestLlama } from './llama.js';

describe('README tuner example (examples/tuner.ts)', () => {
  it('runs and prints what the README says it prints', async () => {
    let output = '';
    await main((text) => {
      output += text;
    }, { llama: await getTestLlama() });
    const lines = output.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(['applied: 1 adapter, contexts: 2', 'adapter changes the output: true', 'train 3, validation 2']);
    expect(lines.filter((line) => line.trim() === '1/2')).toHaveLength(2);
    const base = /^base: (\d+) tokens, loss ([\d.]+) nats, perplexity (\d+)$/.exec(lines.find((l) => l.startsWith('base:')) ?? '');
    const adapter = /^adapter: (\d+) tokens, loss ([\d.]+) nats, perplexity (\d+)$/.exec(lines.find((l) => l.startsWith('adapter:')) ?? '');
    expect(base).not.toBeNull();
    expect(adapter?.[1]).toBe(base?.[1]);
    expect(Number(adapter?.[2])).not.toBe(Number(base?.[2]));
  });
});
