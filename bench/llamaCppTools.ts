import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, homedir } from 'node:os';
import { join, sep } from 'node:path';

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

/** Where the build is cached: `$LLAMA_ACTORS_CACHE`, else `~/.cache/llama-actors`. */
export function toolsCacheDir(): string {
  return process.env.LLAMA_ACTORS_CACHE || join(homedir(), '.cache', 'llama-actors');
}

/**
 * Builds `llama-server`, `llama-bench`, `llama-batched-bench` and `llama-quantize` (CPU, native
 * instructions, OpenMP where the compiler has it, no curl) from `node-llama-cpp/llama/gitRelease.bundle`
 * once, into a cache outside the clone (several minutes on 2 cores), and reuses that build after.
 * No network: the bundle is a git bundle of the exact llama.cpp release node-llama-cpp was built from.
 */
export async function ensureLlamaCppTools(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<LlamaCppTools> {
  // node-llama-cpp's exports do not include its package.json: find the package from its entry point.
  const entry = createRequire(import.meta.url).resolve('node-llama-cpp');
  const llamaDir = join(entry.slice(0, entry.lastIndexOf(`${sep}node-llama-cpp${sep}`) + `${sep}node-llama-cpp`.length), 'llama');
  const { tag } = JSON.parse(await readFile(join(llamaDir, 'llama.cpp.info.json'), 'utf8')) as { tag: string };
  const bundle = join(llamaDir, 'gitRelease.bundle');
  const sourceDir = join(toolsCacheDir(), `llama.cpp-${tag}`);
  const bin = join(sourceDir, 'build', 'bin');
  const tools: LlamaCppTools = {
    release: tag,
    sourceDir,
    server: join(bin, 'llama-server'),
    bench: join(bin, 'llama-bench'),
    batchedBench: join(bin, 'llama-batched-bench'),
    quantize: join(bin, 'llama-quantize'),
  };
  const stampFile = join(sourceDir, 'build', 'llama-actors.stamp');
  const bundleInfo = await stat(bundle);
  const stamp = `${tag} ${bundleInfo.size} ${TARGETS.join(',')}`;
  const built = existsSync(stampFile) && (await readFile(stampFile, 'utf8')) === stamp;
  if (built && TARGETS.every((target) => existsSync(join(bin, target)))) return tools;

  await mkdir(toolsCacheDir(), { recursive: true });
  if (!existsSync(join(sourceDir, 'CMakeLists.txt'))) {
    log(`llama.cpp ${tag}: cloning the bundled source into ${sourceDir}`);
    await run('git', ['clone', '--quiet', bundle, sourceDir]);
  }
  const generator = (await which('ninja')) ? ['-G', 'Ninja'] : [];
  log(`llama.cpp ${tag}: configuring (CPU, native, no curl)`);
  await run('cmake', ['-S', sourceDir, '-B', join(sourceDir, 'build'), ...generator, '-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_CURL=OFF',
    '-DLLAMA_OPENSSL=OFF', '-DGGML_NATIVE=ON', '-DLLAMA_BUILD_TESTS=OFF']);
  log(`llama.cpp ${tag}: building ${TARGETS.join(', ')} on ${cpus().length} cores (several minutes, once)`);
  await run('cmake', ['--build', join(sourceDir, 'build'), '--target', ...TARGETS, '-j', String(cpus().length)]);
  await writeFile(stampFile, stamp);
  return tools;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(0, 3).join(' ')} … exited with ${code}`))));
  });
}

async function which(command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    child.on('exit', (code) => resolve(code === 0));
    child.on('error', () => resolve(false));
  });
}
