/**
 * Bindings for ggml tensors: the `enum ggml_type` values the trainer uses, and reading a tensor's
 * name and data. Declarations from the bundled `ggml.h` (see `llamaNative.ts` for which build).
 */
import type { LlamaLibraryHandles, NativeFunction, NativePointer } from './NativeFunction.js';

/** `enum ggml_type`, the values the trainer uses. */
export const GgmlTypeId = { F32: 0, F16: 1, I32: 26, BF16: 30 } as const;

/** The bound tensor functions, named as in C. */
export interface GgmlTensorFunctions {
  ggml_get_name: NativeFunction<[tensor: bigint], string>;
  ggml_get_data: NativeFunction<[tensor: bigint], NativePointer>;
}

/** Binds {@link GgmlTensorFunctions} in the loaded libraries. */
export function bindGgmlTensorFunctions({ ggmlBase }: LlamaLibraryHandles): GgmlTensorFunctions {
  return {
    ggml_get_name: ggmlBase.func('const char *ggml_get_name(void *tensor)'),
    ggml_get_data: ggmlBase.func('void *ggml_get_data(void *tensor)'),
  };
}
