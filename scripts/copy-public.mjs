#!/usr/bin/env node
// The build's second step, after tsc: copies the chat page's static files (src/server/public/*)
// next to the compiled server (dist/server/public/), where createServer reads them from
// (`new URL('./public/…', import.meta.url)`). Plain Node, no dependency, any platform.
// `node scripts/copy-public.mjs [outDir]`: outDir defaults to dist/ beside this script's parent.
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const from = join(root, 'src', 'server', 'public');
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));
const to = join(outDir, 'server', 'public');

if (!existsSync(join(outDir, 'server'))) {
  console.error(`copy-public: ${join(outDir, 'server')} does not exist: run tsc -p tsconfig.build.json first`);
  process.exit(1);
}
cpSync(from, to, { recursive: true });
console.log(`copy-public: ${readdirSync(to).sort().join(', ')} → ${to}`);
