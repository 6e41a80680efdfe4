import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Layers import downward only: messaging ← actors ← entities ← server ← cli. This reads the import
 * graph of src/ (every `import`, `export … from` and literal `import()` of every .ts file) and fails
 * on an import from a higher layer, naming `file → imported file`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');
const PACKAGE_NAME = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;

/**
 * Each top folder of src/ and its layer; a file may import its own layer and the ones below. gguf
 * is a utility layer between the kernel and the actors: it may import only messaging. src/index.ts
 * is the public surface: it may import anything and nothing may import it.
 */
const LAYERS: Readonly<Record<string, number>> = {
  messaging: 0,
  gguf: 0.5,
  actors: 1,
  entities: 2,
  server: 3,
  cli: 4,
};
const PUBLIC_SURFACE = 'index.ts';
const SURFACE_LAYER = Number.POSITIVE_INFINITY;

/** Every .ts file under `dir`. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The module specifiers a source text imports: static imports (`import type` too, and bare
 * `import './x.js'`), `export … from`, and `import()` of a literal. TypeScript's own scanner reads
 * them, so comments and strings that merely look like imports do not count. A computed `import(x)`
 * cannot be followed (the CLI's loaders of plugins and user files); it names no src module.
 */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

/** The src-relative path a specifier of `file` points at (`.js` read as its `.ts`), or undefined for a package. */
function resolveImport(file: string, specifier: string): string | undefined {
  if (specifier === PACKAGE_NAME || specifier.startsWith(`${PACKAGE_NAME}/`)) return PUBLIC_SURFACE;
  if (!specifier.startsWith('.')) return undefined; // a package or a node: builtin
  const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
  return relative(SRC, target).split(sep).join('/');
}

/** The layer of a src-relative path, or undefined when it is outside src/ or in no known layer. */
function layerOf(path: string): number | undefined {
  if (path.startsWith('../')) return undefined;
  if (path === PUBLIC_SURFACE) return SURFACE_LAYER;
  const top = path.split('/')[0] ?? '';
  return path.includes('/') ? LAYERS[top] : undefined;
}

/** Every import edge of src/ as `[importer, imported]`, src-relative paths, packages left out. */
function importGraph(): [string, string][] {
  return tsFiles(SRC).flatMap((file) => {
    const from = relative(SRC, file).split(sep).join('/');
    return importsOf(readFileSync(file, 'utf8')).flatMap((specifier): [string, string][] => {
      const to = resolveImport(file, specifier);
      return to === undefined ? [] : [[from, to]];
    });
  });
}

/** What is wrong with one edge, or undefined when it points down or sideways. */
function violation(from: string, to: string): string | undefined {
  const fromLayer = from === PUBLIC_SURFACE ? SURFACE_LAYER : layerOf(from);
  if (fromLayer === undefined) return `${from}: not in a layer (put it under ${Object.keys(LAYERS).join(', ')})`;
  if (to.startsWith('../')) return `src/${from} → ${to.replace(/^(\.\.\/)+/, '')} (outside src/)`;
  const toLayer = layerOf(to);
  if (toLayer === undefined) return `src/${from} → src/${to} (not in a layer)`;
  if (from === PUBLIC_SURFACE) return undefined;
  return toLayer > fromLayer ? `src/${from} → src/${to}` : undefined;
}

describe('layering: src/ imports point down (messaging ← gguf ← actors ← entities ← server ← cli)', () => {
  it('no file imports from a higher layer, from outside src/, or the public surface', () => {
    const graph = importGraph();
    // The reader must see the graph, or an empty one would pass: the kernel alone has dozens of edges.
    expect(graph.filter(([from]) => from.startsWith('messaging/')).length).toBeGreaterThan(50);
    expect(graph).toContainEqual(['actors/ModelActor/ModelActor.ts', 'messaging/Actor.ts']);
    const wrong = [...new Set(graph.map(([from, to]) => violation(from, to)).filter((line) => line !== undefined))];
    expect(wrong, 'upward imports (file → imported file)').toEqual([]);
  });

  it('reads every form of import, and nothing that only looks like one', () => {
    const text = [
      "import type { A } from './a.js';",
      "import {\n  B,\n  C,\n} from './b.js';",
      "import './side-effect.js';",
      "export { D } from './d.js';",
      "export type { E } from './e.js';",
      "export * from './star.js';",
      "const lazy = () => import('./lazy.js');",
      "// import { F } from './commented.js';",
      "const s = \"import G from './in-a-string.js'\";",
      'const n = await import(name);',
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a.js', './b.js', './side-effect.js', './d.js', './e.js', './star.js', './lazy.js']);
  });

  it('judges edges by layer: down and sideways pass, up and out fail', () => {
    expect(violation('actors/TunerActor/TunerActor.ts', 'actors/ModelActor/modelProtocol.ts')).toBeUndefined();
    expect(violation('gguf/checkModelFile.ts', 'messaging/errors.ts')).toBeUndefined();
    expect(violation('index.ts', 'cli/main.ts')).toBeUndefined();
    expect(violation('messaging/MessageRouter.ts', 'entities/actorNames.ts')).toBe(
      'src/messaging/MessageRouter.ts → src/entities/actorNames.ts',
    );
    expect(violation('gguf/checkModelFile.ts', 'actors/ModelActor/modelErrors.ts')).toBe(
      'src/gguf/checkModelFile.ts → src/actors/ModelActor/modelErrors.ts',
    );
    expect(violation('server/createServer.ts', 'index.ts')).toBe('src/server/createServer.ts → src/index.ts');
    expect(violation('entities/ModelManager.ts', '../test/standalone/fixtures.ts')).toBe(
      'src/entities/ModelManager.ts → test/standalone/fixtures.ts (outside src/)',
    );
    expect(violation('util.ts', 'messaging/errors.ts')).toMatch(/^util\.ts: not in a layer/);
  });
});
