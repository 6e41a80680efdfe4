#!/usr/bin/env node
// The llama-actors CLI without a build step: the compiled CLI when `npm run build` made one
// (dist/cli/main.js), else the TypeScript sources through tsx's loader (a devDependency).
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
