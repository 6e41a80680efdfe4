import { GgufValue } from '../../src/gguf/GgufValue.js';
import type { GgufWriter } from '../../src/gguf/GgufWriter.js';

/** llama.cpp's `llama_token_type` values as stored in `tokenizer.ggml.token_type`. */
const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  BYTE: 6,
} as const;

/** SentencePiece's stand-in for a space; every word piece starts with it. */
const SPACE = '\u2581';

/**
 * A SentencePiece-style (`tokenizer.ggml.model` = `llama`) vocabulary, built piece by piece.
 *
 * It always starts with the layout llama.cpp assumes for SPM models: `<unk>` = 0, `<s>` = 1,
 * `</s>` = 2, followed here by the ChatML markers (so a ChatML chat template maps onto single
 * control tokens, and llama.cpp recognizes `<|im_end|>` as an end-of-generation token) and the 256
 * byte-fallback tokens `<0x00>`..`<0xFF>`: llama.cpp's SPM tokenizer emits any character with no
 * piece of its own as its UTF-8 bytes, looks those tokens up by name, and throws at tokenization
 * time if one is missing (it also finds the newline token as `<0x0A>`).
 *
 * llama.cpp's SPM tokenizer starts from single characters and repeatedly merges the adjacent pair
 * with the highest score whose concatenation is itself a piece. A word therefore only becomes one
 * token when every intermediate merge exists, which is why {@link addWord} adds every prefix.
 */
export class SpmVocabulary {
  /** The SentencePiece word-boundary character, `▁` (U+2581). */
  static readonly SPACE = SPACE;

  readonly #pieces: string[] = [];
  readonly #scores: number[] = [];
  readonly #types: number[] = [];
  readonly #ids = new Map<string, number>();
  #normalPieces = 0;

  readonly unknownId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly imStartId: number;
  readonly imEndId: number;

  constructor() {
    this.unknownId = this.#push('<unk>', TokenType.UNKNOWN, 0);
    this.bosId = this.#push('<s>', TokenType.CONTROL, 0);
    this.eosId = this.#push('</s>', TokenType.CONTROL, 0);
    this.imStartId = this.#push('<|im_start|>', TokenType.CONTROL, 0);
    this.imEndId = this.#push('<|im_end|>', TokenType.CONTROL, 0);
    for (let byte = 0; byte < 256; byte++) {
      this.#push(byteToken(byte), TokenType.BYTE, 0);
    }
  }

  /** Number of tokens. */
  get size(): number {
    return this.#pieces.length;
  }

  /** The id of `piece`, if it is in the vocabulary. */
  idOf(piece: string): number | undefined {
    return this.#ids.get(piece);
  }

  /** Whether `id` is a normal (text) piece rather than a special or byte token. */
  isNormal(id: number): boolean {
    return this.#types[id] === TokenType.NORMAL;
  }

  /**
   * Adds a normal piece, or returns the id it already has. Earlier pieces get higher scores, as
   * in a trained SentencePiece model where score follows frequency; the score decides which
   * merge llama.cpp's tokenizer prefers when several are possible.
   */
  addPiece(piece: string): number {
    const existing = this.#ids.get(piece);
    if (existing !== undefined) return existing;
    if (piece.length === 0) throw new Error('empty piece');
    return this.#push(piece, TokenType.NORMAL, -this.#normalPieces++);
  }

  /**
   * Adds `▁word` and every prefix of it (`▁`, `▁w`, `▁wo`, ...), so that the word, written after a
   * space, tokenizes to exactly one token. Returns the word's id; `undefined` (and nothing added)
   * when that would grow the vocabulary beyond `limit`.
   */
  addWord(word: string, limit = Infinity): number | undefined {
    const characters = [...`${SPACE}${word}`];
    const prefixes = characters.map((_, i) => characters.slice(0, i + 1).join(''));
    const missing = prefixes.filter((p) => !this.#ids.has(p)).length;
    if (this.size + missing > limit) return undefined;
    let id = -1;
    for (const prefix of prefixes) id = this.addPiece(prefix);
    return id;
  }

  /** Records the vocabulary in `tokenizer.ggml.*` metadata, with an optional Jinja chat template. */
  writeMetadata(writer: GgufWriter, chatTemplate?: string): void {
    writer
      .set('tokenizer.ggml.model', GgufValue.string('llama'))
      .set('tokenizer.ggml.tokens', GgufValue.strings(this.#pieces))
      .set('tokenizer.ggml.scores', GgufValue.float32s(this.#scores))
      .set('tokenizer.ggml.token_type', GgufValue.int32s(this.#types))
      .set('tokenizer.ggml.bos_token_id', GgufValue.uint32(this.bosId))
      .set('tokenizer.ggml.eos_token_id', GgufValue.uint32(this.eosId))
      .set('tokenizer.ggml.unknown_token_id', GgufValue.uint32(this.unknownId))
      .set('tokenizer.ggml.add_bos_token', GgufValue.bool(true))
      .set('tokenizer.ggml.add_eos_token', GgufValue.bool(false));
    if (chatTemplate !== undefined) writer.set('tokenizer.chat_template', GgufValue.string(chatTemplate));
  }

  #push(piece: string, type: number, score: number): number {
    if (this.#ids.has(piece)) throw new Error(`duplicate piece '${piece}'`);
    const id = this.#pieces.length;
    this.#pieces.push(piece);
    this.#types.push(type);
    this.#scores.push(score);
    this.#ids.set(piece, id);
    return id;
  }
}

function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}
