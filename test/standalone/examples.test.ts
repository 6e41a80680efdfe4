import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../examples/hello-actors.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');

/** The fenced block right after the README's `<!-- marker -->` comment. */
function readmeBlock(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker} -->`);
  expect(at, `README.md has no <!-- ${marker} --> marker`).toBeGreaterThanOrEqual(0);
  const block = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, `no code block after <!-- ${marker} -->`).not.toBeNull();
  return block?.[1] ?? '';
}

/** The part of an example file between `// #region README` and `// #endregion README`, as the README shows it. */
function exampleRegion(path: string): string {
  const source = readFileSync(new URL(path, root), 'utf8');
  const region = /\/\/ #region README\n([\s\S]*?)\/\/ #endregion README\n/.exec(source);
  expect(region, `${path} has no README region`).not.toBeNull();
  // The README imports the package by name; the example imports the source.
  return (region?.[1] ?? '').replaceAll("from '../src/index.js'", "from 'llama-actors'");
}

describe('README kernel example (examples/hello-actors.ts)', () => {
  it('the README shows the example file, line for line', () => {
    expect(readmeBlock('example: examples/hello-actors.ts')).toBe(exampleRegion('examples/hello-actors.ts'));
  });

  it('runs and prints what the README says it prints', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    const expected = readmeBlock('output: examples/hello-actors.ts').trimEnd().split('\n');
    expect(expected.length).toBeGreaterThan(5);
    expect(lines.join('\n').split('\n')).toEqual(expected);
    // Pinned here as well, so that editing both the README and the example cannot hide a change.
    expect(lines).toContain('the adds, in order: 15, 16');
    expect(lines).toContain('a model ref on a counter: ACTOR_KIND_MISMATCH');
  });
});
