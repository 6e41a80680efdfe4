import { GgmlType } from '../../../gguf/GgmlType.js';
import { GgufValue } from '../../../gguf/GgufValue.js';
import { type GgufWriteResult, GgufWriter } from '../../../gguf/GgufWriter.js';
import type { LoraFactors } from './factorizeLoraDelta.js';

/**
 * A LoRA adapter GGUF as llama.cpp loads one: the `adapter.*` metadata, and per base weight
 * `<name>.lora_a` (ggml `[n_in, r]`) and `<name>.lora_b` (ggml `[r, n_out]`), the shapes llama.cpp
 * checks against the base weight `[n_in, n_out]` when loading.
 */
export class LoraAdapterGguf {
  readonly #writer: GgufWriter;

  constructor(architecture: string, rank: number, alpha: number) {
    this.#writer = new GgufWriter()
      .set('general.architecture', GgufValue.string(architecture))
      .set('general.type', GgufValue.string('adapter'))
      .set('general.name', GgufValue.string(`LoRA rank ${rank} extracted by llama-actors`))
      .set('adapter.type', GgufValue.string('lora'))
      .set('adapter.lora.alpha', GgufValue.float32(alpha));
  }

  /** Adds the factors of the base weight `name` of ggml shape `[nIn, nOut]`. */
  add(name: string, [nIn, nOut]: readonly [number, number], factors: LoraFactors): void {
    this.#writer.addTensor(`${name}.lora_a`, GgmlType.F32, [nIn, factors.rank], factors.loraA);
    this.#writer.addTensor(`${name}.lora_b`, GgmlType.F32, [factors.rank, nOut], factors.loraB);
  }

  /** Writes the adapter to `path` (atomically, as {@link GgufWriter.writeTo} does). */
  writeTo(path: string): Promise<GgufWriteResult> {
    return this.#writer.writeTo(path);
  }
}
