/**
 * Bindings for batches and decoding: `struct llama_batch` and `llama_decode`. The layout is copied
 * from the bundled `llama.h` (see `llamaNative.ts` for which build and how it is checked).
 */
import * as koffi from 'koffi';
import type { LlamaLibraryHandles, NativeFunction, NativePointer } from './NativeFunction.js';

/** `struct llama_batch` (llama.h). */
export const LlamaBatch = koffi.struct('llama_batch', {
  n_tokens: 'int32_t',
  token: 'void *',
  embd: 'void *',
  pos: 'void *',
  n_seq_id: 'void *',
  seq_id: 'void *',
  logits: 'void *',
});

/** Field values of {@link LlamaBatch}. */
export interface LlamaBatchValue {
  n_tokens: number;
  token: NativePointer;
  embd: NativePointer;
  pos: NativePointer;
  n_seq_id: NativePointer;
  seq_id: NativePointer;
  logits: NativePointer;
}

/** The bound decode functions, named as in C. */
export interface LlamaDecodeFunctions {
  llama_decode: NativeFunction<[context: bigint, batch: LlamaBatchValue], number>;
}

/** Binds {@link LlamaDecodeFunctions} in the loaded libraries. */
export function bindLlamaDecodeFunctions({ llama }: LlamaLibraryHandles): LlamaDecodeFunctions {
  return {
    llama_decode: llama.func('int32_t llama_decode(void *ctx, llama_batch batch)'),
  };
}
