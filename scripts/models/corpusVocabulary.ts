import { Corpus } from './Corpus.js';
import { SpmVocabulary } from './SpmVocabulary.js';

/** A vocabulary made from a corpus, with the token id of each corpus unit it could fit. */
export interface CorpusVocabulary {
  readonly vocabulary: SpmVocabulary;
  /** Corpus unit (word or punctuation mark) → its single token id. */
  readonly unitIds: ReadonlyMap<string, number>;
}

/**
 * Builds an SPM vocabulary from a corpus: the fixed specials and byte tokens, every character the
 * corpus uses (so unseen words still tokenize to characters rather than raw bytes), then words,
 * most frequent first, each with all its `▁` prefixes, while they fit within `limit` tokens.
 */
export function corpusVocabulary(corpus: Corpus, limit = Infinity): CorpusVocabulary {
  const vocabulary = new SpmVocabulary();
  const units = corpus.unitsByFrequency();
  const characters = new Set(units.flatMap((unit) => [...unit]));
  for (const character of [...characters].sort()) vocabulary.addPiece(character);

  const unitIds = new Map<string, number>();
  for (const unit of units) {
    const id = Corpus.isPunctuation(unit) ? vocabulary.idOf(unit) : vocabulary.addWord(unit, limit);
    if (id !== undefined) unitIds.set(unit, id);
  }
  if (vocabulary.size > limit) {
    throw new RangeError(`${vocabulary.size} tokens are needed before any word; limit is ${limit}`);
  }
  return { vocabulary, unitIds };
}
