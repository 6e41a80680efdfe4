import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/tuner.js';
import { getTestLlama } from './llama.js';

/** The README's output block for `examples/tuner.ts` (the fenced block after its marker). */
function readmeOutput(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const at = readme.indexOf('<!-- output: examples/tuner.ts -->');
  expect(at, 'README.md has no <!-- output: examples/tuner.ts --> marker').toBeGreaterThanOrEqual(0);
  return (/```\n([\s\S]*?)```/.exec(readme.slice(at))?.[1] ?? '').trimEnd().split('\n');
}

/** A README line as a pattern: literal, except the loss and perplexity figures (they depend on the machine's floating point). */
function linePattern(line: string): RegExp {
  const literal = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${literal.replace(/loss [\d\\.]+ nats, perplexity \d+/, 'loss [\\d.]+ nats, perplexity \\d+')}$`);
}

describe('README tuner example (examples/tuner.ts)', () => {
  it('runs and prints what the README says it prints', async () => {
    let output = '';
    await main((text) => {
      output += text;
    }, { llama: await getTestLlama() });
    const lines = output.trimEnd().split('\n');
    const expected = readmeOutput();
    expect(expected.length).toBeGreaterThan(5);
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => expect(line).toMatch(linePattern(expected[i] ?? '')));
    // The adapter changes the loss, not which tokens are scored.
    const base = /^base: (\d+) tokens, loss ([\d.]+) nats, perplexity (\d+)$/.exec(lines.find((l) => l.startsWith('base:')) ?? '');
    const adapter = /^adapter: (\d+) tokens, loss ([\d.]+) nats, perplexity (\d+)$/.exec(lines.find((l) => l.startsWith('adapter:')) ?? '');
    expect(base).not.toBeNull();
    expect(adapter?.[1]).toBe(base?.[1]);
    expect(Number(adapter?.[2])).not.toBe(Number(base?.[2]));
  });
});
