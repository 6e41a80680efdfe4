import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufValue } from '../../src/gguf/GgufValue.js';
import { GgufWriter, type GgufWriteResult } from '../../src/gguf/GgufWriter.js';
import { LlamaLayout, type LlamaTensor } from './LlamaLayout.js';
import { Prng } from './Prng.js';
import type { TinyModelParams } from './tinyModel.js';

/** Parameters of the tiny model's LoRA adapters; with the base model's they are the cache key. */
export interface TinyAdapterParams {
  readonly seed: number;
  readonly rank: number;
}

export const TINY_ADAPTER_PARAMS: TinyAdapterParams = { seed: 0x10ba, rank: 4 };

/** Which adapter to write: one that loads and visibly steers output, or one llama.cpp must reject. */
export type TinyAdapterKind = 'valid' | 'bad-shape';

/**
 * Writes a LoRA adapter GGUF for the tiny model.
 *
 * llama.cpp pairs `<tensor>.lora_a` with `<tensor>.lora_b` and, for a base weight of ggml shape
 * `[n_in, n_out]`, requires `lora_a` to be `[n_in, rank]` and `lora_b` `[rank, n_out]`; it adds
 * `scale · alpha / rank · B(Ax)` to that weight's product. Alpha equals the rank here, so a
 * context scale of 1 applies the adapter at full strength.
 *
 * The valid adapter targets every attention query/value projection and the output matrix, with a
 * delta on the logits as large as the base logits themselves, so greedy output changes. The
 * bad-shape adapter gives `blk.0.attn_q`'s `lora_a` half the input width, which llama.cpp rejects
 * when the adapter is loaded ("has incorrect shape").
 */
export async function writeTinyAdapter(
  path: string,
  kind: TinyAdapterKind,
  params: TinyAdapterParams,
  base: TinyModelParams,
): Promise<GgufWriteResult> {
  // Only names and shapes of the base are needed; vocabSize is exact because the tiny model pads to it.
  const layout = new LlamaLayout(
    {
      name: 'tiny',
      contextLength: base.contextLength,
      embeddingLength: base.embeddingLength,
      blockCount: base.blockCount,
      feedForwardLength: base.feedForwardLength,
      headCount: base.headCount,
      headCountKv: base.headCountKv,
      rmsEpsilon: 1e-5,
      ropeFreqBase: 10_000,
    },
    base.vocabSize,
  );
  const writer = new GgufWriter()
    .set('general.architecture', GgufValue.string('llama'))
    .set('general.type', GgufValue.string('adapter'))
    .set('general.name', GgufValue.string(`llama-actors tiny LoRA (${kind})`))
    .set('adapter.type', GgufValue.string('lora'))
    .set('adapter.lora.alpha', GgufValue.float32(params.rank));

  const targets = layout.tensors().filter((t) => t.role === 'attn_q' || t.role === 'attn_v' || t.role === 'output');
  for (const target of targets) {
    const [nIn, nOut] = target.shape as [number, number];
    const wrongWidth = kind === 'bad-shape' && target.name === 'blk.0.attn_q.weight';
    const a = loraMatrix(params.seed, `${target.name}.lora_a`, wrongWidth ? nIn / 2 : nIn, params.rank, 1);
    const b = loraMatrix(params.seed, `${target.name}.lora_b`, params.rank, nOut, bScale(target));
    writer.addTensor(`${target.name}.lora_a`, GgmlType.F32, [wrongWidth ? nIn / 2 : nIn, params.rank], a);
    writer.addTensor(`${target.name}.lora_b`, GgmlType.F32, [params.rank, nOut], b);
  }
  return writer.writeTo(path);
}

/**
 * `A` maps a unit-RMS hidden state to rank values of about unit size; `B` then sets the size of the
 * delta: strong on the logits (so greedy choices flip), gentle inside attention.
 */
function bScale(target: LlamaTensor): number {
  return target.role === 'output' ? 4 : 0.5;
}

function loraMatrix(seed: number, name: string, columns: number, rows: number, size: number): Float32Array {
  const values = new Float32Array(columns * rows);
  // Uniform on [-s, s] has standard deviation s/sqrt(3); normalizing by fan-in keeps outputs at `size`.
  Prng.forStream(seed, name).fillSymmetric(values, (size * Math.sqrt(3)) / Math.sqrt(columns));
  return values;
}
