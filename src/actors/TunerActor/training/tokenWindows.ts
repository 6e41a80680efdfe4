/**
 * How token sequences become llama.cpp training data.
 *
 * `llama_opt_epoch` trains on datapoints of exactly `n_ctx` tokens, each with `n_ctx` labels (the
 * next token at every position), and clears the KV cache between datapoints. Like llama.cpp's own
 * `common_opt_dataset_init`, the sequences are joined into one stream (in order, with nothing in
 * between: a sequence is expected to carry its own BOS / EOS tokens, as a chat template gives them)
 * and windows of `contextSize` tokens are cut from it every `stride` tokens. A last window aligned to
 * the end of the stream is added when the regular ones stop short of it, so no token is left out.
 *
 * Consequences worth knowing: a window may span the end of one sequence and the start of the next
 * (the model learns the separator tokens too), and every position is trained, not only assistant
 * turns (llama.cpp has no loss mask).
 */
import { TokenOutOfVocabularyError } from './trainingErrors.js';

/** The windows cut from one token stream. */
export interface TokenWindows {
  /** The sequences joined. */
  readonly stream: Int32Array;
  /** Start of each window in {@link stream}; window `i` is `stream[s, s + contextSize)`, its labels `stream[s + 1, s + contextSize + 1)`. */
  readonly starts: readonly number[];
  readonly contextSize: number;
}

/** Start offsets of the windows over a stream of `tokens` tokens; empty when it is shorter than `contextSize + 1`. */
export function tokenWindowStarts(tokens: number, contextSize: number, stride: number): number[] {
  const last = tokens - contextSize - 1; // the last valid start
  if (last < 0) return [];
  const starts: number[] = [];
  for (let start = 0; start <= last; start += stride) starts.push(start);
  if (starts[starts.length - 1] !== last) starts.push(last);
  return starts;
}

/** Joins `sequences` and cuts them into windows (see the module comment). */
export function buildTokenWindows(
  sequences: readonly (readonly number[])[],
  contextSize: number,
  stride: number,
): TokenWindows {
  let total = 0;
  for (const sequence of sequences) total += sequence.length;
  const stream = new Int32Array(total);
  let offset = 0;
  for (const sequence of sequences) {
    stream.set(sequence, offset);
    offset += sequence.length;
  }
  return { stream, starts: tokenWindowStarts(total, contextSize, stride), contextSize };
}

/** Total tokens of `sequences`. */
export function countTokens(sequences: readonly (readonly number[])[]): number {
  let total = 0;
  for (const sequence of sequences) total += sequence.length;
  return total;
}

/**
 * Throws for the first token not below `vocabularySize`: llama.cpp asserts (and aborts the process)
 * on a label outside the vocabulary.
 *
 * @throws {TokenOutOfVocabularyError}
 */
export function checkTokenVocabulary(
  sequences: readonly (readonly number[])[],
  split: 'train' | 'validation',
  vocabularySize: number,
): void {
  sequences.forEach((sequence, index) => {
    for (let position = 0; position < sequence.length; position++) {
      const token = sequence[position]!;
      if (token >= vocabularySize) throw new TokenOutOfVocabularyError(split, index, position, token, vocabularySize);
    }
  });
}
