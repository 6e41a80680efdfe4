import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The corpus shipped with the repository. */
const DEFAULT_CORPUS = fileURLToPath(new URL('../corpus/demo-corpus.txt', import.meta.url));

/**
 * Words and sentence punctuation. Punctuation is a unit of its own because, written straight after
 * a word, it is a separate token; other characters (quotes, brackets) are left out of the corpus.
 */
const UNIT = /[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*|[.,;:!?]/g;
const PUNCTUATION = /^[.,;:!?]$/;

/**
 * A plain-text corpus split into paragraphs (blank-line separated) of units: words and
 * punctuation marks, in order. The demo model's bigram statistics and the tiny model's vocabulary
 * both come from it, so its hash is part of their cache keys.
 */
export class Corpus {
  readonly paragraphs: readonly (readonly string[])[];
  /** First 16 hex digits of the text's SHA-256. */
  readonly hash: string;

  constructor(text: string) {
    this.paragraphs = text
      .split(/\n\s*\n/)
      .map((paragraph) => paragraph.match(UNIT) ?? [])
      .filter((units) => units.length > 0);
    this.hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  }

  /** Reads a corpus file, by default `scripts/corpus/demo-corpus.txt`. */
  static load(path = DEFAULT_CORPUS): Corpus {
    return new Corpus(readFileSync(path, 'utf8'));
  }

  /** Whether a unit is punctuation (written without a leading space) rather than a word. */
  static isPunctuation(unit: string): boolean {
    return PUNCTUATION.test(unit);
  }

  /** Distinct units, most frequent first (ties in order of first appearance, for determinism). */
  unitsByFrequency(): string[] {
    const counts = new Map<string, number>();
    for (const paragraph of this.paragraphs) {
      for (const unit of paragraph) counts.set(unit, (counts.get(unit) ?? 0) + 1);
    }
    // Map iteration order is insertion order, and Array.prototype.sort is stable.
    return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([unit]) => unit);
  }
}
