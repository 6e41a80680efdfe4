import * as koffi from 'koffi';
import type { LlamaNative } from './llamaNative.js';

/**
 * One ordinary decode of one token: the first `llama_decode` sets up the thread pool the training
 * graphs then use. Without it they ignore the thread count and spin in `ggml_barrier` (~60× slower).
 */
export function warmUpContext(native: LlamaNative, context: bigint, token: number): void {
  const tokenMemory: unknown = koffi.alloc('int32_t', 1);
  try {
    koffi.encode(tokenMemory, 'int32_t', token);
    const status = native.fn.llama_decode(context, {
      n_tokens: 1,
      token: tokenMemory as bigint,
      embd: null,
      pos: null,
      n_seq_id: null,
      seq_id: null,
      logits: null,
    });
    if (status !== 0) throw new Error(`warm-up llama_decode returned ${status}`);
  } finally {
    koffi.free(tokenMemory);
  }
}
