import { describe, expect, it } from 'vitest';
import { main } from '../../examples/hello-actors.js';

describe('README kernel example (examples/hello-actors.ts)', () => {
  it('runs and prints what the README says it prints', async () => {
    let output = '';
    await main((text) => {
      output += text;
    });
    expect(output).toBe('total: 5\n3 2 1 (3 tokens, finish: stop)\n1000000 999999 999998 \nafter break: ABORTED\n');
  });
});
