/**
 * Builds llama.cpp's `llama-server` (only that target) from the source node-llama-cpp bundles, into
 * the cache outside the clone (`$LLAMA_ACTORS_CACHE`, else `~/.cache/llama-actors`), once; the tests
 * that run a real llama-server use it, and `.ci/run` calls this when it is missing.
 *
 *   npx tsx scripts/llamaServer.ts          # build if missing, print the binary's path
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildLlamaCppTargets, isBuilt, llamaCppSource } from './llamaCppBuild.js';

const TARGET = 'llama-server';

/** Where `llama-server` is (or will be) for the bundled release, and whether it is built. */
export async function llamaServerBinary(): Promise<{ path: string; built: boolean; release: string }> {
  const source = await llamaCppSource();
  return { path: join(source.binDir, TARGET), built: await isBuilt(source, TARGET), release: source.release };
}

/** Builds `llama-server` if it is missing (several minutes on 2 cores, once) and returns its path. */
export async function ensureLlamaServer(log?: (line: string) => void): Promise<string> {
  const source = await buildLlamaCppTargets([TARGET], log);
  return join(source.binDir, TARGET);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  const path = await ensureLlamaServer();
  process.stderr.write(`llama-server ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  console.log(path);
}
