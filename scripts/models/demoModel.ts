import { GgmlType } from '../../src/gguf/GgmlType.js';
import { GgufWriter, type GgufWriteResult, type TensorData } from '../../src/gguf/GgufWriter.js';
import { CHATML_TEMPLATE } from './chatmlTemplate.js';
import { Corpus } from './Corpus.js';
import { corpusVocabulary } from './corpusVocabulary.js';
import { LlamaLayout, type LlamaTensor } from './LlamaLayout.js';

/** Parameters of the demo model; with the corpus hash they are its cache key. */
export interface DemoModelParams {
  /** Add-k smoothing constant for the bigram estimates. */
  readonly smoothing: number;
  /**
   * Weight of an end-of-text transition at each paragraph end, relative to one observed bigram.
   * Below 1 keeps greedy generation going past the first full stop while sampling still ends.
   */
  readonly endOfTextWeight: number;
  readonly contextLength: number;
}

export const DEMO_MODEL_PARAMS: DemoModelParams = {
  smoothing: 1e-4,
  endOfTextWeight: 0.5,
  contextLength: 4096,
};

/** Logit of tokens the bigram never predicts (prefix pieces, bytes, specials): far below any word. */
const NEVER = -60;
/** One-hot value: large enough that RMS norm's epsilon does not shrink it measurably. */
const HOT = 8;
/** Attention and FFN do nothing here, so they are as narrow as practical (their weights are all zero). */
const HEAD_DIM = 32;
const FFN_WIDTH = 32;
/** The residual width is padded to a multiple of this, a conventional SIMD-friendly row length. */
const WIDTH_MULTIPLE = 64;

/**
 * Writes a llama model that is really a word-level bigram model of the corpus, so it writes
 * legible (if aimless) English.
 *
 * Every corpus word and punctuation mark is one token (all `▁` prefixes are in the vocabulary), and
 * each such token, plus one "start of sentence" state shared by every other token, owns one
 * dimension of the residual stream: its embedding is one-hot. With zero attention and zero FFN
 * weights the blocks add nothing, so the final hidden state is still that one-hot vector. RMS norm
 * turns `HOT·e_i` into `sqrt(n_embd)·e_i`, which an output norm of `1/sqrt(n_embd)` undoes, and
 * entry (token t, column i) of `output.weight` holds log P(t | state i): the logits are exactly
 * the bigram's log-probabilities, so temperature 1 samples the bigram model itself. Only the
 * embedding and output matrices carry information, so the file stays a few MB.
 */
export async function writeDemoModel(
  path: string,
  params: DemoModelParams,
  corpus = Corpus.load(),
): Promise<GgufWriteResult> {
  const { vocabulary, unitIds } = corpusVocabulary(corpus);
  const units = [...unitIds.keys()];
  // State 0 is "start of sentence": the context of every token that is not a whole corpus unit.
  const stateOfToken = new Int32Array(vocabulary.size);
  units.forEach((unit, index) => {
    stateOfToken[unitIds.get(unit)!] = index + 1;
  });
  const states = units.length + 1;
  const width = Math.ceil(states / WIDTH_MULTIPLE) * WIDTH_MULTIPLE;
  const logProbabilities = bigramLogProbabilities(corpus, units, params);

  const layout = new LlamaLayout(
    {
      name: 'llama-actors demo (bigram toy)',
      contextLength: params.contextLength,
      embeddingLength: width,
      blockCount: 1,
      feedForwardLength: FFN_WIDTH,
      headCount: 1,
      headCountKv: 1,
      headDim: HEAD_DIM,
      rmsEpsilon: 1e-6,
      ropeFreqBase: 10_000,
    },
    vocabulary.size,
  );
  const writer = new GgufWriter();
  layout.writeMetadata(writer, 'f16');
  vocabulary.writeMetadata(writer, CHATML_TEMPLATE);

  // Token id → its outcome index in logProbabilities (units, then end of text); -1: never predicted.
  const predictedRow = new Int32Array(vocabulary.size).fill(-1);
  units.forEach((unit, index) => {
    predictedRow[unitIds.get(unit)!] = index;
  });
  predictedRow[vocabulary.eosId] = units.length;

  const weightsFor = (tensor: LlamaTensor): TensorData => {
    switch (tensor.role) {
      case 'token_embd':
        return (chunk, first) => {
          for (let i = 0; i < chunk.length; i++) {
            const token = Math.floor((first + i) / width);
            chunk[i] = (first + i) % width === stateOfToken[token] ? HOT : 0;
          }
        };
      case 'output':
        // Row `token` holds that token's logit under each state (one state per column).
        return (chunk, first) => {
          for (let i = 0; i < chunk.length; i++) {
            const token = Math.floor((first + i) / width);
            const state = (first + i) % width;
            const row = predictedRow[token]!;
            chunk[i] = state >= states ? 0 : row < 0 ? NEVER : logProbabilities[state * (units.length + 1) + row]!;
          }
        };
      case 'output_norm':
        return new Float32Array(width).fill(1 / Math.sqrt(width));
      case 'attn_norm':
      case 'ffn_norm':
        return new Float32Array(width).fill(1);
      default:
        // Attention and FFN contribute exactly zero, leaving the residual stream untouched.
        return new Float32Array(tensor.shape.reduce((a, b) => a * b, 1));
    }
  };
  for (const tensor of layout.tensors()) {
    const type = tensor.shape.length === 1 ? GgmlType.F32 : GgmlType.F16;
    writer.addTensor(tensor.name, type, tensor.shape, weightsFor(tensor));
  }
  return writer.writeTo(path);
}

/**
 * Smoothed bigram log-probabilities as a row-major [state][next] table, where state 0 is "start
 * of sentence" and state i is unit i-1, and next ranges over the units then end of text.
 */
function bigramLogProbabilities(corpus: Corpus, units: readonly string[], params: DemoModelParams): Float64Array {
  const next = units.length + 1;
  const endOfText = units.length;
  const index = new Map(units.map((unit, i) => [unit, i]));
  const counts = new Float64Array((units.length + 1) * next);
  for (const paragraph of corpus.paragraphs) {
    let state = 0;
    for (const unit of paragraph) {
      const target = index.get(unit)!;
      increment(counts, state * next + target, 1);
      // Sentence starts also train the start state, which then serves prompts that end mid-word.
      if (state !== 0 && isSentenceEnd(units[state - 1]!)) increment(counts, target, 1);
      state = target + 1;
    }
    increment(counts, state * next + endOfText, params.endOfTextWeight);
  }

  const logProbabilities = new Float64Array(counts.length);
  for (let state = 0; state <= units.length; state++) {
    let total = 0;
    for (let j = 0; j < next; j++) total += counts[state * next + j]!;
    const denominator = total + params.smoothing * next;
    for (let j = 0; j < next; j++) {
      logProbabilities[state * next + j] = Math.log((counts[state * next + j]! + params.smoothing) / denominator);
    }
  }
  return logProbabilities;
}

function isSentenceEnd(unit: string): boolean {
  return unit === '.' || unit === '!' || unit === '?';
}

function increment(values: Float64Array, index: number, amount: number): void {
  values[index] = values[index]! + amount;
}
