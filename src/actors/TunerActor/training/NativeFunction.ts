import type * as koffi from 'koffi';

/** A native pointer as koffi 3 passes it: a BigInt address, or `null` for NULL. */
export type NativePointer = bigint | null;

/** A function bound by koffi, typed, with its `async` form (runs on a koffi worker thread). */
export type NativeFunction<Args extends unknown[], Result> = ((...args: Args) => Result) & {
  async: (...args: [...Args, (error: unknown, result: Result) => void]) => void;
};

/**
 * The three loaded llama.cpp libraries each binding area takes its functions from: `ggmlBase`
 * (tensors, `ggml_opt_*`), `ggml` (backend registry) and `llama`.
 */
export interface LlamaLibraryHandles {
  readonly ggmlBase: koffi.LibraryHandle;
  readonly ggml: koffi.LibraryHandle;
  readonly llama: koffi.LibraryHandle;
}
