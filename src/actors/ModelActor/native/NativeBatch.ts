import * as koffi from 'koffi';
import type { LlamaBatchValue } from '../../TunerActor/training/llamaNative.js';
import type { NativeInferenceFunctions } from './nativeLlama.js';

/**
 * @internal A `llama_batch` allocated once by llama.cpp and written through typed-array views of its
 * native arrays, so filling a batch allocates nothing per token. Each token belongs to one sequence.
 */
export class NativeBatch {
  readonly capacity: number;
  private readonly value: LlamaBatchValue;
  private readonly tokens: Int32Array;
  private readonly positions: Int32Array;
  private readonly seqCounts: Int32Array;
  private readonly logits: Int8Array;
  private readonly seqIds: Int32Array[];
  private length = 0;
  private freed = false;

  constructor(
    private readonly fn: NativeInferenceFunctions,
    capacity: number,
  ) {
    this.capacity = capacity;
    this.value = fn.llama_batch_init(capacity, 0, 1);
    const view = (pointer: unknown, bytes: number) => koffi.view(pointer as bigint, bytes);
    this.tokens = new Int32Array(view(this.value.token, capacity * 4));
    this.positions = new Int32Array(view(this.value.pos, capacity * 4));
    this.seqCounts = new Int32Array(view(this.value.n_seq_id, capacity * 4));
    this.logits = new Int8Array(view(this.value.logits, capacity));
    const seqPointers = new BigUint64Array(view(this.value.seq_id, capacity * 8));
    this.seqIds = Array.from({ length: capacity }, (_, i) => new Int32Array(view(seqPointers[i], 4)));
  }

  get size(): number {
    return this.length;
  }

  get free(): number {
    return this.capacity - this.length;
  }

  clear(): void {
    this.length = 0;
  }

  /** Appends one token; returns its index in the batch (where its logits will be). */
  add(token: number, position: number, sequence: number, wantLogits: boolean): number {
    const index = this.length++;
    this.tokens[index] = token;
    this.positions[index] = position;
    this.seqCounts[index] = 1;
    (this.seqIds[index] as Int32Array)[0] = sequence;
    this.logits[index] = wantLogits ? 1 : 0;
    return index;
  }

  /** The struct to pass to `llama_decode`, holding the tokens added since the last {@link clear}. */
  get native(): LlamaBatchValue {
    return { ...this.value, n_tokens: this.length };
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.fn.llama_batch_free(this.value);
  }
}
