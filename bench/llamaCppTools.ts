import { join } from 'node:path';
import { buildLlamaCppTargets } from '../scripts/llamaCppBuild.js';

export { toolsCacheDir } from '../scripts/llamaCppBuild.js';

/** llama.cpp's own tools, built from the source node-llama-cpp bundles (the same llama.cpp it runs). */
export interface LlamaCppTools {
  /** The release tag of the bundled source, e.g. `v0.5.0`. */
  release: string;
  /** The source checkout (outside the repository, reused by every clone). */
  sourceDir: string;
  server: string;
  bench: string;
  batchedBench: string;
  quantize: string;
}

const TARGETS = ['llama-server', 'llama-bench', 'llama-batched-bench', 'llama-quantize'] as const;

/**
 * Builds `llama-server`, `llama-bench`, `llama-batched-bench` and `llama-quantize` once from the
 * bundled llama.cpp source into the cache outside the clone (`scripts/llamaCppBuild.ts`: several
 * minutes on 2 cores), and reuses that build after. No network.
 */
export async function ensureLlamaCppTools(log?: (line: string) => void): Promise<LlamaCppTools> {
  const source = await buildLlamaCppTargets(TARGETS, log);
  const bin = source.binDir;
  return {
    release: source.release,
    sourceDir: source.sourceDir,
    server: join(bin, 'llama-server'),
    bench: join(bin, 'llama-bench'),
    batchedBench: join(bin, 'llama-batched-bench'),
    quantize: join(bin, 'llama-quantize'),
  };
}
