/**
 * Finding node-llama-cpp's prebuilt llama.cpp libraries on disk, before anything is loaded.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { NativeLibraryNotFoundError } from './trainingErrors.js';

/** Paths of the three llama.cpp libraries, in load order (each needs the one before). */
export interface LlamaLibraryPaths {
  readonly ggmlBase: string;
  readonly ggml: string;
  readonly llama: string;
}

/** Options of {@link loadLlamaNative} and {@link locateLlamaBins}. */
export interface LlamaNativeOptions {
  /**
   * Directory holding `libggml-base`, `libggml` and `libllama`. Defaults to the `LLAMA_ACTORS_LLAMA_BINS`
   * environment variable, else the bins directory of node-llama-cpp's prebuilt package for this
   * platform (`@node-llama-cpp/<platform>-<arch>`, CPU build).
   */
  binsDir?: string;
}

/** Prebuilt package names node-llama-cpp uses for CPU builds, by `${platform}-${arch}`. */
const PREBUILT_PACKAGES: Record<string, string> = {
  'linux-x64': '@node-llama-cpp/linux-x64',
  'linux-arm64': '@node-llama-cpp/linux-arm64',
  'linux-arm': '@node-llama-cpp/linux-armv7l',
  'darwin-arm64': '@node-llama-cpp/mac-arm64-metal',
  'darwin-x64': '@node-llama-cpp/mac-x64',
  'win32-x64': '@node-llama-cpp/win-x64',
  'win32-arm64': '@node-llama-cpp/win-arm64',
};

const LIBRARY_PATTERNS = {
  ggmlBase: /^(lib)?ggml-base\.(so|dylib|dll)$/,
  ggml: /^(lib)?ggml(\.v[\d.]+)?\.(so|dylib|dll)$/,
  llama: /^(lib)?llama(\.v[\d.]+)?\.(so|dylib|dll)$/,
} as const;

/**
 * Finds the directory of node-llama-cpp's prebuilt llama.cpp binaries for this platform.
 *
 * @throws {NativeLibraryNotFoundError} when no such directory holds the three libraries.
 */
export function locateLlamaBins(options: LlamaNativeOptions = {}): string {
  const explicit = options.binsDir ?? process.env.LLAMA_ACTORS_LLAMA_BINS;
  if (explicit !== undefined && explicit !== '') {
    findLlamaLibraries(explicit);
    return explicit;
  }
  const key = `${process.platform}-${process.arch}`;
  const packageName = PREBUILT_PACKAGES[key];
  if (packageName === undefined) {
    throw new NativeLibraryNotFoundError(`no prebuilt llama.cpp package is known for ${key}`);
  }
  const entry = resolvePackage(packageName);
  if (entry === undefined) {
    throw new NativeLibraryNotFoundError(
      `${packageName} is not installed (node-llama-cpp installs it as an optional dependency); set LLAMA_ACTORS_LLAMA_BINS to a llama.cpp build's library directory`,
    );
  }
  // The package's entry is dist/index.js; its binaries live in bins/<name>/ next to dist/.
  const binsRoot = join(dirname(entry), '..', 'bins');
  const candidates = existsSync(binsRoot) ? readdirSync(binsRoot).map((name) => join(binsRoot, name)) : [];
  for (const candidate of candidates) {
    try {
      findLlamaLibraries(candidate);
      return candidate;
    } catch {
      // Try the next directory.
    }
  }
  throw new NativeLibraryNotFoundError(`${packageName} has no directory under ${binsRoot} with libggml-base, libggml and libllama`);
}

/**
 * The three libraries in `dir`, by file name (versioned names such as `libllama.v1.so` included).
 *
 * @throws {NativeLibraryNotFoundError} when `dir` cannot be read or lacks one of them.
 */
export function findLlamaLibraries(dir: string): LlamaLibraryPaths {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new NativeLibraryNotFoundError(`llama.cpp library directory ${dir} cannot be read`, { cause: error });
  }
  const pick = (pattern: RegExp, label: string): string => {
    const name = names.find((candidate) => pattern.test(candidate));
    if (name === undefined) throw new NativeLibraryNotFoundError(`${label} not found in ${dir}`);
    return join(dir, name);
  };
  return {
    ggmlBase: pick(LIBRARY_PATTERNS.ggmlBase, 'libggml-base'),
    ggml: pick(LIBRARY_PATTERNS.ggml, 'libggml'),
    llama: pick(LIBRARY_PATTERNS.llama, 'libllama'),
  };
}

function resolvePackage(name: string): string | undefined {
  // The prebuilt package is node-llama-cpp's dependency: resolve it from there first, in case it is
  // not hoisted next to ours.
  const require = createRequire(import.meta.url);
  const bases: string[] = [];
  try {
    bases.push(require.resolve('node-llama-cpp'));
  } catch {
    // node-llama-cpp itself may be missing; the error below names the prebuilt package.
  }
  bases.push(import.meta.url);
  for (const base of bases) {
    try {
      return createRequire(base).resolve(name);
    } catch {
      // Not resolvable from this base.
    }
  }
  return undefined;
}
