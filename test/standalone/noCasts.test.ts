import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * Protocols type every reply and stream from one declaration, so no caller should choose a reply
 * type (`router.ask<R>(...)`) or force one (`as unknown as`): either is a reply type the compiler
 * cannot check. This test reads the sources, the examples and the README and names every place
 * that does, file:line, except the few lines that implement the typed sends themselves.
 */

const root = new URL('../../', import.meta.url);

const FORBIDDEN = [
  { name: '`as unknown as`', pattern: /\bas\s+unknown\s+as\b/ },
  { name: 'an `ask` with an explicit type argument', pattern: /\.ask\s*</ },
];

/**
 * The lines allowed to pass a type argument to `ask`: the kernel's typed implementation, which
 * forwards a type the protocol (or the caller's own type parameter) already fixed. Each entry
 * names its files and the exact line, and must still be in use (a stale entry fails too).
 */
const ALLOWED: ReadonlyArray<{ files: readonly string[]; line: RegExp; why: string }> = [
  {
    files: ['src/messaging/ActorRef.ts'],
    line: /^\s*return this\.router\.ask<ReplyOf<T, K>>\(this\.address, type, payload, this\.checked\(options\)\);$/,
    why: 'the typed ref: the reply type is the protocol reply of the message type',
  },
  {
    files: ['src/messaging/SenderRouter.ts', 'src/messaging/MessageRouter.ts'],
    line: /^\s*return this\.router\.ask<R, P>\(to, type, payload, \{ \.\.\.options, from: options\.from \?\? this\.self \}\);$/,
    why: "an actor's view of the router forwarding its caller's own type parameters",
  },
];

function filesUnder(dir: string): string[] {
  return readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => `${dir}/${path.split('\\').join('/')}`)
    .sort();
}

function scanned(): string[] {
  return [...filesUnder('src'), ...filesUnder('examples'), 'demo-streaming.ts', 'README.md'];
}

interface Finding {
  where: string;
  what: string;
  text: string;
}

function findings(): { found: Finding[]; used: Set<number> } {
  const found: Finding[] = [];
  const used = new Set<number>();
  for (const file of scanned()) {
    const lines = readFileSync(new URL(file, root), 'utf8').split('\n');
    lines.forEach((text, index) => {
      for (const { name, pattern } of FORBIDDEN) {
        if (!pattern.test(text)) continue;
        const allowed = ALLOWED.findIndex((entry) => entry.files.includes(file) && entry.line.test(text));
        if (allowed >= 0) used.add(allowed);
        else found.push({ where: `${file}:${index + 1}`, what: name, text: text.trim() });
      }
    });
  }
  return { found, used };
}

describe('no caller-chosen reply types', () => {
  it('scans the sources, the examples and the README', () => {
    const files = scanned();
    expect(files).toContain('src/messaging/ActorRef.ts');
    expect(files).toContain('examples/hello-actors.ts');
    expect(files.length).toBeGreaterThan(50);
  });

  it('has no `as unknown as` and no `ask<...>` outside the typed implementation', () => {
    const { found } = findings();
    const report = found.map((f) => `${f.where}: ${f.what}: ${f.text}`).join('\n');
    expect(report, `use a ref (router.ref(address, protocol)) instead:\n${report}`).toBe('');
  });

  it('every allowed line is still there (the allow-list does not go stale)', () => {
    const { used } = findings();
    const stale = ALLOWED.filter((_, index) => !used.has(index)).map((entry) => `${entry.files.join(' or ')}: ${entry.why}`);
    expect(stale).toEqual([]);
  });
});
