/**
 * koffi bindings to the llama.cpp that node-llama-cpp ships prebuilt, for the parts node-llama-cpp
 * does not expose: training (`llama_opt_*`, `ggml_opt_*`) and saving a model.
 *
 * Only the declarations the trainer needs are bound. Struct layouts are copied field by field from
 * the `llama.h` / `ggml-opt.h` of the very build these binaries come from (node-llama-cpp 3.22.1,
 * llama.cpp release `v0.5.0`, bundled as the git bundle `node_modules/node-llama-cpp/llama/gitRelease.bundle`); a test
 * compares them with that header and with what the `*_default_params()` functions return, because
 * a layout that is off by one field does not fail loudly: it passes garbage to native code.
 *
 * The declarations live by area, each with its `bind…` function: models and contexts
 * (`llamaModelBindings.ts`), batches and decoding (`llamaBatchBindings.ts`), the optimizer, its
 * datasets and results (`ggmlOptBindings.ts`) and tensors (`ggmlTensorBindings.ts`). This module
 * loads the libraries, binds every area into one {@link LlamaNativeFunctions} table, and re-exports
 * the areas, so callers import from here alone.
 */
import * as koffi from 'koffi';
import { bindGgmlOptFunctions, type GgmlOptFunctions } from './ggmlOptBindings.js';
import { bindGgmlTensorFunctions, type GgmlTensorFunctions } from './ggmlTensorBindings.js';
import { bindLlamaDecodeFunctions, type LlamaDecodeFunctions } from './llamaBatchBindings.js';
import { bindLlamaModelFunctions, type LlamaModelFunctions } from './llamaModelBindings.js';
import { findLlamaLibraries, type LlamaLibraryPaths, type LlamaNativeOptions, locateLlamaBins } from './locateLlamaBins.js';
import type { LlamaLibraryHandles, NativeFunction } from './NativeFunction.js';
import { NativeLibraryNotFoundError } from './trainingErrors.js';

export {
  GgmlOptEpochCallback,
  GgmlOptOptimizer,
  GgmlOptOptimizerParams,
  type GgmlOptFunctions,
  type GgmlOptOptimizerParamsValue,
  LlamaOptParamFilter,
  LlamaOptParams,
  type LlamaOptParamsValue,
} from './ggmlOptBindings.js';
export { type GgmlTensorFunctions, GgmlTypeId } from './ggmlTensorBindings.js';
export { LlamaBatch, type LlamaBatchValue, type LlamaDecodeFunctions } from './llamaBatchBindings.js';
export {
  LlamaContextParams,
  type LlamaContextParamsValue,
  LlamaFlashAttnType,
  LlamaFtype,
  LlamaLoadMode,
  type LlamaModelFunctions,
  LlamaModelParams,
  type LlamaModelParamsValue,
  LlamaModelQuantizeParams,
  type LlamaModelQuantizeParamsValue,
} from './llamaModelBindings.js';
export { type LlamaLibraryPaths, type LlamaNativeOptions, locateLlamaBins } from './locateLlamaBins.js';
export type { LlamaLibraryHandles, NativeFunction, NativePointer } from './NativeFunction.js';

/** The bound backend-registry functions, named as in C; see {@link initLlamaBackends}. */
export interface LlamaBackendFunctions {
  ggml_backend_load_all_from_path: NativeFunction<[dir: string], void>;
  llama_backend_init: NativeFunction<[], void>;
}

/** The bound functions, named as in C: every area's table in one. */
export interface LlamaNativeFunctions
  extends LlamaBackendFunctions,
    GgmlTensorFunctions,
    GgmlOptFunctions,
    LlamaModelFunctions,
    LlamaDecodeFunctions {}

/** The bundled libraries, loaded, with the functions the trainer uses. */
export interface LlamaNative {
  /** Directory of the prebuilt binaries the libraries were loaded from. */
  readonly binsDir: string;
  /** Paths of the three libraries, in load order. */
  readonly libraries: LlamaLibraryPaths;
  readonly fn: LlamaNativeFunctions;
  /** Native address of an exported symbol (a function pointer for callbacks llama.cpp calls). */
  symbol(name: string): bigint;
}

/**
 * Stacks of koffi calls: koffi runs native code on its own preallocated stack, 128 KiB for async
 * calls by default, and llama.cpp's graph building and compute (which the calling thread takes part
 * in) are not written for a small stack. 8 MiB is what a glibc thread gets.
 */
const NATIVE_STACK_BYTES = 8 << 20;

const loaded = new Map<string, LlamaNative>();
const backendsReady = new Set<string>();

/**
 * Loads the bundled `libggml-base`, `libggml` and `libllama` (in that order: each needs the one
 * before) and binds the training API. Cached per directory: a library is loaded once per process.
 * Does not initialize backends; see {@link initLlamaBackends}.
 *
 * @example
 * ```ts
 * const native = loadLlamaNative();
 * initLlamaBackends(native);
 * const defaults = native.fn.llama_context_default_params();
 * ```
 * @throws {NativeLibraryNotFoundError} when the libraries cannot be found or loaded.
 */
export function loadLlamaNative(options: LlamaNativeOptions = {}): LlamaNative {
  const binsDir = locateLlamaBins(options);
  const cached = loaded.get(binsDir);
  if (cached !== undefined) return cached;

  const libraries = findLlamaLibraries(binsDir);
  raiseNativeStacks();
  const handles = loadLibraries(binsDir, libraries);

  // koffi types a bound function as taking and returning anything; each area's interface gives
  // every one the TypeScript form of its C declaration, which callers are checked against.
  const fn: LlamaNativeFunctions = {
    ...bindBackendFunctions(handles),
    ...bindGgmlTensorFunctions(handles),
    ...bindGgmlOptFunctions(handles),
    ...bindLlamaModelFunctions(handles),
    ...bindLlamaDecodeFunctions(handles),
  };

  const native: LlamaNative = {
    binsDir,
    libraries,
    fn,
    symbol: (name) => findSymbol(handles, name, binsDir),
  };
  loaded.set(binsDir, native);
  return native;
}

/**
 * Registers the backends (CPU variants) found next to the libraries. Without it llama.cpp has no
 * CPU device and `llama_model_load_from_file` returns NULL. Once per process: node-llama-cpp does
 * the same for its own copy, so do not call this in a process that also uses node-llama-cpp.
 */
export function initLlamaBackends(native: LlamaNative): void {
  if (backendsReady.has(native.binsDir)) return;
  native.fn.llama_backend_init();
  native.fn.ggml_backend_load_all_from_path(native.binsDir);
  backendsReady.add(native.binsDir);
}

/** Gives koffi's native calls {@link NATIVE_STACK_BYTES} of stack, where it still can. */
function raiseNativeStacks(): void {
  const config = koffi.config();
  if ((config.sync_stack_size ?? 0) >= NATIVE_STACK_BYTES && (config.async_stack_size ?? 0) >= NATIVE_STACK_BYTES) return;
  try {
    koffi.config({
      ...config,
      sync_stack_size: Math.max(config.sync_stack_size ?? 0, NATIVE_STACK_BYTES),
      async_stack_size: Math.max(config.async_stack_size ?? 0, NATIVE_STACK_BYTES),
    });
  } catch {
    // koffi refuses once any library is loaded in this process; its defaults then apply.
  }
}

function loadLibraries(binsDir: string, libraries: LlamaLibraryPaths): LlamaLibraryHandles {
  try {
    const ggmlBase = koffi.load(libraries.ggmlBase);
    const ggml = koffi.load(libraries.ggml);
    const llama = koffi.load(libraries.llama);
    return { ggmlBase, ggml, llama };
  } catch (error) {
    throw new NativeLibraryNotFoundError(`cannot load llama.cpp from ${binsDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function bindBackendFunctions({ ggml, llama }: LlamaLibraryHandles): LlamaBackendFunctions {
  return {
    ggml_backend_load_all_from_path: ggml.func('void ggml_backend_load_all_from_path(const char *dir)'),
    llama_backend_init: llama.func('void llama_backend_init()'),
  };
}

function findSymbol({ ggmlBase, ggml, llama }: LlamaLibraryHandles, name: string, binsDir: string): bigint {
  for (const handle of [ggmlBase, ggml, llama]) {
    let address: unknown;
    try {
      address = handle.symbol(name);
    } catch {
      continue;
    }
    if (typeof address === 'bigint' && address !== 0n) return address;
  }
  throw new NativeLibraryNotFoundError(`symbol ${name} is not exported by the llama.cpp libraries in ${binsDir}`);
}
