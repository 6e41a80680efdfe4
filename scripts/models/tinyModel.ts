import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufWriter, type GgufWriteResult } from '../../src/gguf/GgufWriter.js';
import { CHATML_TEMPLATE } from './chatmlTemplate.js';
import { Corpus } from './Corpus.js';
import { corpusVocabulary } from './corpusVocabulary.js';
import { LlamaLayout, type LlamaTensor } from './LlamaLayout.js';
import { Prng } from './Prng.js';
import { SpmVocabulary } from './SpmVocabulary.js';

/** Parameters of the tiny random-weight model; they are also its cache key. */
export interface TinyModelParams {
  readonly seed: number;
  readonly vocabSize: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly feedForwardLength: number;
  readonly contextLength: number;
}

/** The tiny model the tests use: about 0.5 MB, thousands of tokens per second on one core. */
export const TINY_MODEL_PARAMS: TinyModelParams = {
  seed: 0x7a11,
  vocabSize: 512,
  embeddingLength: 64,
  blockCount: 2,
  headCount: 4,
  headCountKv: 2,
  feedForwardLength: 128,
  contextLength: 512,
};

/**
 * Writes a random-weight llama model with F32 weights. Its vocabulary is the most frequent words
 * of the demo corpus (padded with unreachable `▁~N` pieces up to `vocabSize` if it runs short), so it tokenizes English
 * sensibly even though what it generates is noise.
 */
export async function writeTinyModel(
  path: string,
  params: TinyModelParams,
  corpus = Corpus.load(),
): Promise<GgufWriteResult> {
  const { vocabulary } = corpusVocabulary(corpus, params.vocabSize);
  // Fill to the exact size with pieces no corpus word uses, so vocabSize is what the model reports.
  for (let filler = 0; vocabulary.size < params.vocabSize; filler++) {
    vocabulary.addPiece(`${SpmVocabulary.SPACE}~${filler}`);
  }
  const layout = new LlamaLayout(
    {
      name: 'llama-actors tiny (random weights)',
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
  layout.writeMetadata(writer, 'f32');
  vocabulary.writeMetadata(writer, CHATML_TEMPLATE);
  for (const tensor of layout.tensors()) {
    const weights = tinyWeights(tensor, params.seed);
    if (tensor.role === 'token_embd' || tensor.role === 'output') {
      addTextBias(weights, tensor, (id) => vocabulary.isNormal(id));
    }
    writer.addTensor(tensor.name, GgmlType.F32, tensor.shape, weights);
  }
  return writer.writeTo(path);
}

/**
 * Norms are ones, as in an untrained model. Matrices get uniform noise scaled by 1/sqrt(fan-in)
 * so activations stay near unit size through the blocks; the output matrix is scaled up so
 * logits spread over a few units, making greedy choices clear-cut rather than near-ties that
 * could flip between builds or thread counts.
 */
function tinyWeights(tensor: LlamaTensor, seed: number): Float32Array {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  if (tensor.shape.length === 1) return values.fill(1);
  const fanIn = tensor.shape[0]!;
  const scale = tensor.role === 'token_embd' ? 1 : (tensor.role === 'output' ? 4 : 1) / Math.sqrt(fanIn);
  Prng.forStream(seed, tensor.name).fillSymmetric(values, scale);
  return values;
}

/** Value of residual dimension 0 in every token embedding; it survives the blocks as a bias input. */
const BIAS_INPUT = 4;
/** Output weight on that dimension for non-text tokens, worth roughly -10 on their logits. */
const NON_TEXT_PENALTY = -2;

/**
 * llama has no output bias, so one is built: dimension 0 of every embedding is a large constant,
 * which stays dominant through blocks whose contributions are about unit size, and the output rows
 * of byte and control tokens weigh it negatively. Random weights would otherwise emit raw bytes
 * (invalid UTF-8) and end-of-text often; with this, generated text is mostly whole pieces.
 */
function addTextBias(weights: Float32Array, tensor: LlamaTensor, isText: (id: number) => boolean): void {
  const width = tensor.shape[0]!;
  for (let token = 0; token * width < weights.length; token++) {
    weights[token * width] = tensor.role === 'token_embd' ? BIAS_INPUT : isText(token) ? 0 : NON_TEXT_PENALTY;
  }
}
