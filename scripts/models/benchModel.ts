import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufWriter, type GgufWriteResult, type TensorData } from '../../src/gguf/GgufWriter.js';
import { CHATML_TEMPLATE } from './chatmlTemplate.js';
import { LlamaLayout, type LlamaTensor } from './LlamaLayout.js';
import { Prng } from './Prng.js';
import { SpmVocabulary } from './SpmVocabulary.js';

/** Parameters of the benchmark model; they are also its cache key. */
export interface BenchModelParams {
  readonly seed: number;
  readonly vocabSize: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly contextLength: number;
}

/**
 * TinyLlama-1.1B's shape (width, FFN, heads, vocabulary), with fewer blocks so the file stays in
 * the hundreds of MB: per-token cost per block is that of a real small model.
 */
export const BENCH_MODEL_PARAMS: BenchModelParams = {
  seed: 0xbe7c,
  vocabSize: 32_000,
  embeddingLength: 2048,
  blockCount: 4,
  feedForwardLength: 5632,
  headCount: 32,
  headCountKv: 4,
  contextLength: 4096,
};

/**
 * Writes a random-weight llama model of realistic shape in F16. Tensors are generated chunk by
 * chunk while they are written, so memory use stays flat whatever the size.
 */
export async function writeBenchModel(path: string, params: BenchModelParams): Promise<GgufWriteResult> {
  const vocabulary = generatedVocabulary(params.vocabSize);
  const layout = new LlamaLayout(
    {
      name: 'llama-actors bench (random weights)',
      contextLength: params.contextLength,
      embeddingLength: params.embeddingLength,
      blockCount: params.blockCount,
      feedForwardLength: params.feedForwardLength,
      headCount: params.headCount,
      headCountKv: params.headCountKv,
      rmsEpsilon: 1e-5,
      ropeFreqBase: 10_000,
    },
    vocabulary.size,
  );
  const writer = new GgufWriter();
  layout.writeMetadata(writer, 'f16');
  vocabulary.writeMetadata(writer, CHATML_TEMPLATE);
  for (const tensor of layout.tensors()) {
    const type = tensor.shape.length === 1 ? GgmlType.F32 : GgmlType.F16;
    writer.addTensor(tensor.name, type, tensor.shape, benchWeights(tensor, params.seed));
  }
  return writer.writeTo(path);
}

function benchWeights(tensor: LlamaTensor, seed: number): TensorData {
  if (tensor.shape.length === 1) return new Float32Array(tensor.shape[0]!).fill(1);
  const scale = tensor.role === 'token_embd' ? 1 : 1 / Math.sqrt(tensor.shape[0]!);
  const prng = Prng.forStream(seed, tensor.name);
  return (chunk) => prng.fillSymmetric(chunk, scale);
}

/**
 * A vocabulary of `size` tokens shaped like a trained SPM one: the fixed specials and bytes, then
 * letters, `▁`-words and letter groups of growing length, each reachable by the tokenizer's merges
 * because every shorter piece it is made from comes first.
 */
function generatedVocabulary(size: number): SpmVocabulary {
  const vocabulary = new SpmVocabulary();
  vocabulary.addPiece(SpmVocabulary.SPACE);
  const letters = [...'etaoinshrdlucmfwypvbgkjqxz'];
  let groups = [''];
  while (vocabulary.size < size) {
    groups = groups.flatMap((group) => letters.map((letter) => group + letter));
    for (const group of groups) {
      for (const piece of [group, `${SpmVocabulary.SPACE}${group}`]) {
        if (vocabulary.size < size) vocabulary.addPiece(piece);
      }
    }
  }
  return vocabulary;
}
