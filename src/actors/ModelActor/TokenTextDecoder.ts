import type { LlamaModel, Token } from 'node-llama-cpp';

/** @internal What one decoded token contributes. */
export interface DecodedPiece {
  /** Text that is safe to show now (may be empty while text is held back). */
  text: string;
  /** A stop string was produced: generation should end; `text` stops before it. */
  stopped: boolean;
  /** Which stop string, when `stopped`. */
  stoppedBy?: string;
}

/**
 * @internal Turns tokens into text as they come. Holds text back while it could still be (a) an
 * incomplete UTF-8 character split across tokens, or (b) the start of a stop string, so that a
 * stream never shows a replacement character or half of a stop sequence.
 */
export class TokenTextDecoder {
  private pendingTokens: Token[] = [];
  private previousTokens: Token[] = [];
  private heldText = '';
  private readonly longestStop: number;

  /**
   * @param contextTokens the tokens before the generated ones (the prompt's tail): SPM tokenizers
   * drop the leading space of a first token, so the first generated token needs them as context.
   */
  constructor(
    private readonly model: LlamaModel,
    private readonly stop: readonly string[],
    contextTokens: readonly Token[] = [],
  ) {
    this.longestStop = stop.reduce((max, s) => Math.max(max, s.length), 0);
    this.previousTokens = contextTokens.slice(-4);
  }

  push(token: Token): DecodedPiece {
    this.pendingTokens.push(token);
    // The previous tokens give the tokenizer context (SPM leading spaces depend on it).
    const decoded = this.model.detokenize(this.pendingTokens, false, this.previousTokens.slice(-4));
    if (decoded.endsWith('\uFFFD') && this.pendingTokens.length < 4) return { text: '', stopped: false };
    this.previousTokens.push(...this.pendingTokens);
    if (this.previousTokens.length > 16) this.previousTokens = this.previousTokens.slice(-8);
    this.pendingTokens = [];
    return this.release(this.heldText + decoded);
  }

  /** Whatever is still held back, at the end of generation. */
  flush(): string {
    const rest = this.heldText;
    this.heldText = '';
    return rest;
  }

  private release(text: string): DecodedPiece {
    if (this.longestStop === 0) return { text, stopped: false };
    let cut = -1;
    let stoppedBy: string | undefined;
    for (const stop of this.stop) {
      const at = text.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        stoppedBy = stop;
      }
    }
    if (cut >= 0) {
      this.heldText = '';
      return { text: text.slice(0, cut), stopped: true, stoppedBy };
    }
    // Keep the longest suffix that is a prefix of some stop string.
    let keep = 0;
    for (let length = Math.min(this.longestStop - 1, text.length); length > 0; length--) {
      const suffix = text.slice(text.length - length);
      if (this.stop.some((s) => s.startsWith(suffix))) {
        keep = length;
        break;
      }
    }
    this.heldText = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }
}
