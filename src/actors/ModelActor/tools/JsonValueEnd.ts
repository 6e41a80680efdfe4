/**
 * @internal Finds where a streamed JSON object or array ends, chunk by chunk: the grammar makes
 * the arguments valid JSON, but lets the model go on after the closing bracket (node-llama-cpp's
 * JSON grammars allow trailing newlines), so the call is cut where its value is complete.
 */
export class JsonValueEnd {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;

  /** Feeds the next chunk; returns the index in it just after the value's end, or -1 while open. */
  push(chunk: string): number {
    for (let i = 0; i < chunk.length; i++) {
      const char = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (char === '\\') this.escaped = true;
        else if (char === '"') this.inString = false;
        continue;
      }
      if (char === '"') this.inString = true;
      else if (char === '{' || char === '[') {
        this.depth++;
        this.started = true;
      } else if (char === '}' || char === ']') {
        this.depth--;
        if (this.started && this.depth === 0) return i + 1;
      }
    }
    return -1;
  }
}
