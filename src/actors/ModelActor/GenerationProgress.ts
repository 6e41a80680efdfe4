import type { Token } from 'node-llama-cpp';

/** @internal Tokens and timing of one running generation, across its phases. */
export class GenerationProgress {
  readonly generated: Token[] = [];
  text = '';
  firstTokenAt: number | undefined;
  /** Prompt tokens the first phase found in the slot's KV cache. */
  cachedPromptTokens: number | undefined;
  private lastTokenAt = 0;

  add(token: Token, now: number): void {
    this.firstTokenAt ??= now;
    this.lastTokenAt = now;
    this.generated.push(token);
  }

  /** Decode rate: tokens after the first over the time since the first. */
  rate(): number {
    const { generated, firstTokenAt, lastTokenAt } = this;
    return generated.length > 1 && firstTokenAt !== undefined && lastTokenAt > firstTokenAt
      ? ((generated.length - 1) * 1000) / (lastTokenAt - firstTokenAt)
      : 0;
  }
}
