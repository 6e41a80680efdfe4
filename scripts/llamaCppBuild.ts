/**
 * Builds llama.cpp targets from the source node-llama-cpp bundles (`node-llama-cpp/llama/gitRelease.bundle`,
 * a git bundle of the exact llama.cpp release it was built from, so no network), into a cache outside
 * the clone that every clone reuses. Shared by `bench/llamaCppTools.ts` (all the tools the benchmark
 * needs) and `scripts/llamaServer.ts` (just `llama-server`, for tests and CI).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, homedir } from 'node:os';
import { join, sep } from 'node:path';

/** The bundled llama.cpp source and where its build lands. */
export interface LlamaCppSource {
  /** The release tag of the bundled source, e.g. `v0.5.0`. */
  release: string;
  /** The git bundle inside node-llama-cpp. */
  bundle: string;
  /** The source checkout (outside the repository, reused by every clone). */
  sourceDir: string;
  /** `build/bin` under `sourceDir`: where the targets' binaries are. */
  binDir: string;
}

/** Where the build is cached: `$LLAMA_ACTORS_CACHE`, else `~/.cache/llama-actors`. */
export function toolsCacheDir(): string {
  return process.env.LLAMA_ACTORS_CACHE || join(homedir(), '.cache', 'llama-actors');
}

/** Finds the bundled source's release and the cache paths for it (builds nothing). */
export async function llamaCppSource(): Promise<LlamaCppSource> {
  // node-llama-cpp's exports do not include its package.json: find the package from its entry point.
  const entry = createRequire(import.meta.url).resolve('node-llama-cpp');
  const marker = `${sep}node-llama-cpp${sep}`;
  const llamaDir = join(entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1), 'llama');
  const { tag } = JSON.parse(await readFile(join(llamaDir, 'llama.cpp.info.json'), 'utf8')) as { tag: string };
  const sourceDir = join(toolsCacheDir(), `llama.cpp-${tag}`);
  return { release: tag, bundle: join(llamaDir, 'gitRelease.bundle'), sourceDir, binDir: join(sourceDir, 'build', 'bin') };
}

/**
 * Whether `target` was built from this bundle: its binary exists and its stamp names the same
 * release and bundle size (a different node-llama-cpp rebuilds).
 */
export async function isBuilt(source: LlamaCppSource, target: string): Promise<boolean> {
  const file = stampFile(source, target);
  if (!existsSync(file) || !existsSync(join(source.binDir, target))) return false;
  return (await readFile(file, 'utf8')) === (await stampOf(source));
}

/**
 * Builds the given CMake targets (CPU, native instructions, OpenMP where the compiler has it, no
 * curl, no OpenSSL) unless each is already built from this bundle; several minutes on 2 cores the
 * first time, nothing after. Returns the source with its paths.
 */
export async function buildLlamaCppTargets(targets: readonly string[], log: (line: string) => void = stderrLine): Promise<LlamaCppSource> {
  const source = await llamaCppSource();
  const missing: string[] = [];
  for (const target of targets) if (!(await isBuilt(source, target))) missing.push(target);
  if (missing.length === 0) return source;

  await mkdir(toolsCacheDir(), { recursive: true });
  const { release, sourceDir } = source;
  if (!existsSync(join(sourceDir, 'CMakeLists.txt'))) {
    log(`llama.cpp ${release}: cloning the bundled source into ${sourceDir}`);
    await run('git', ['clone', '--quiet', source.bundle, sourceDir]);
  }
  const buildDir = join(sourceDir, 'build');
  const generator = existsSync(join(buildDir, 'CMakeCache.txt')) ? [] : (await which('ninja')) ? ['-G', 'Ninja'] : [];
  log(`llama.cpp ${release}: configuring (CPU, native, no curl)`);
  await run('cmake', ['-S', sourceDir, '-B', buildDir, ...generator, '-DCMAKE_BUILD_TYPE=Release', '-DLLAMA_CURL=OFF',
    '-DLLAMA_OPENSSL=OFF', '-DGGML_NATIVE=ON', '-DLLAMA_BUILD_TESTS=OFF']);
  log(`llama.cpp ${release}: building ${missing.join(', ')} on ${cpus().length} cores (several minutes, once)`);
  await run('cmake', ['--build', buildDir, '--target', ...missing, '-j', String(cpus().length)]);
  const stamp = await stampOf(source);
  for (const target of missing) await writeFile(stampFile(source, target), stamp);
  return source;
}

function stampFile(source: LlamaCppSource, target: string): string {
  return join(source.sourceDir, 'build', `llama-actors.${target}.stamp`);
}

async function stampOf(source: LlamaCppSource): Promise<string> {
  return `${source.release} ${(await stat(source.bundle)).size}`;
}

function stderrLine(line: string): void {
  process.stderr.write(`${line}\n`);
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
