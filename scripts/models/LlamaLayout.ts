import { GgufValue } from '../../src/gguf/GgufValue.js';
import type { GgufWriter } from '../../src/gguf/GgufWriter.js';

/** The hyperparameters of a llama-architecture model, in llama.cpp's terms. */
export interface LlamaHyperparameters {
  readonly name: string;
  readonly contextLength: number;
  /** n_embd: width of the residual stream. */
  readonly embeddingLength: number;
  readonly blockCount: number;
  /** n_ff: hidden width of each SwiGLU feed-forward block. */
  readonly feedForwardLength: number;
  readonly headCount: number;
  /** Fewer than `headCount` gives grouped-query attention. */
  readonly headCountKv: number;
  /**
   * Width of one attention head; defaults to n_embd / headCount. Setting it decouples attention
   * size from n_embd, which lets a wide model carry tiny attention tensors.
   */
  readonly headDim?: number;
  readonly rmsEpsilon: number;
  readonly ropeFreqBase: number;
}

/** What a tensor is for, by llama.cpp's tensor-name stem. */
export type LlamaTensorRole =
  | 'token_embd'
  | 'output_norm'
  | 'output'
  | 'attn_norm'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_output'
  | 'ffn_norm'
  | 'ffn_gate'
  | 'ffn_up'
  | 'ffn_down';

/** One tensor a llama model must contain. `shape` is ggml order: `[n_in, n_out]` for matrices. */
export interface LlamaTensor {
  readonly name: string;
  readonly role: LlamaTensorRole;
  readonly block?: number;
  readonly shape: readonly number[];
}

/** `general.file_type` values (llama.cpp's `llama_ftype`) for the two layouts written here. */
const FileType = { F32: 0, F16: 1 } as const;

/**
 * The metadata keys and tensor set that llama.cpp's `llama` architecture loader expects, derived
 * from hyperparameters and a vocabulary size. Keeping names and shapes in one place means every
 * generated model (and every LoRA adapter aimed at one) agrees with the loader by construction.
 */
export class LlamaLayout {
  readonly hparams: LlamaHyperparameters;
  readonly vocabSize: number;
  readonly headDim: number;

  constructor(hparams: LlamaHyperparameters, vocabSize: number) {
    const headDim = hparams.headDim ?? hparams.embeddingLength / hparams.headCount;
    if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
      // RoPE rotates pairs of dimensions, and llama.cpp requires n_rot == head size for llama.
      throw new RangeError(`head size must be an even integer, got ${headDim}`);
    }
    if (hparams.headCount % hparams.headCountKv !== 0) {
      throw new RangeError('headCount must be a multiple of headCountKv');
    }
    this.hparams = hparams;
    this.vocabSize = vocabSize;
    this.headDim = headDim;
  }

  /** All tensors, in the order llama.cpp's converter writes them. */
  tensors(): LlamaTensor[] {
    const { embeddingLength: embd, feedForwardLength: ff, headCount, headCountKv, blockCount } = this.hparams;
    const q = this.headDim * headCount;
    const kv = this.headDim * headCountKv;
    const tensors: LlamaTensor[] = [{ name: 'token_embd.weight', role: 'token_embd', shape: [embd, this.vocabSize] }];
    for (let block = 0; block < blockCount; block++) {
      const add = (role: LlamaTensorRole, shape: number[]): void => {
        tensors.push({ name: `blk.${block}.${role}.weight`, role, block, shape });
      };
      add('attn_norm', [embd]);
      add('attn_q', [embd, q]);
      add('attn_k', [embd, kv]);
      add('attn_v', [embd, kv]);
      add('attn_output', [q, embd]);
      add('ffn_norm', [embd]);
      add('ffn_gate', [embd, ff]);
      add('ffn_up', [embd, ff]);
      add('ffn_down', [ff, embd]);
    }
    tensors.push({ name: 'output_norm.weight', role: 'output_norm', shape: [embd] });
    tensors.push({ name: 'output.weight', role: 'output', shape: [embd, this.vocabSize] });
    return tensors;
  }

  /** Writes `general.*` and `llama.*` metadata; `matrixType` says how the big matrices are stored. */
  writeMetadata(writer: GgufWriter, matrixType: 'f32' | 'f16'): void {
    const h = this.hparams;
    writer
      .set('general.architecture', GgufValue.string('llama'))
      .set('general.type', GgufValue.string('model'))
      .set('general.name', GgufValue.string(h.name))
      .set('general.file_type', GgufValue.uint32(matrixType === 'f16' ? FileType.F16 : FileType.F32))
      .set('llama.vocab_size', GgufValue.uint32(this.vocabSize))
      .set('llama.context_length', GgufValue.uint32(h.contextLength))
      .set('llama.embedding_length', GgufValue.uint32(h.embeddingLength))
      .set('llama.block_count', GgufValue.uint32(h.blockCount))
      .set('llama.feed_forward_length', GgufValue.uint32(h.feedForwardLength))
      .set('llama.attention.head_count', GgufValue.uint32(h.headCount))
      .set('llama.attention.head_count_kv', GgufValue.uint32(h.headCountKv))
      .set('llama.attention.key_length', GgufValue.uint32(this.headDim))
      .set('llama.attention.value_length', GgufValue.uint32(this.headDim))
      .set('llama.attention.layer_norm_rms_epsilon', GgufValue.float32(h.rmsEpsilon))
      .set('llama.rope.dimension_count', GgufValue.uint32(this.headDim))
      .set('llama.rope.freq_base', GgufValue.float32(h.ropeFreqBase));
  }
}
