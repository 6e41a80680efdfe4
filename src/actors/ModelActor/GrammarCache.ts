import type { Llama, LlamaGrammar } from 'node-llama-cpp';
import { InvalidArgumentError } from '../../messaging/errors.js';

/**
 * @internal JSON-schema grammars by schema: compiling one costs more than a short generation, and
 * clients repeat the same schema. A failed compilation is not kept, so a retry compiles again.
 */
export class GrammarCache {
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  /** The grammar of `schema`, compiled once; `INVALID_PARAMETER` if llama.cpp cannot use it. */
  get(llama: Llama, schema: object): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = llama.createGrammarForJsonSchema(schema as never).catch((error: unknown) => {
        this.grammars.delete(key);
        throw new InvalidArgumentError(`jsonSchema is not usable as a grammar: ${(error as Error).message}`);
      }) as Promise<LlamaGrammar>;
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  /** A grammar from GBNF text (root rule `root`), compiled once. */
  gbnf(llama: Llama, text: string): Promise<LlamaGrammar> {
    const key = `gbnf:${text}`;
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = llama.createGrammar({ grammar: text }).catch((error: unknown) => {
        this.grammars.delete(key);
        throw error;
      });
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  /** Forgets every grammar (they belong to the `Llama` of a model being unloaded). */
  clear(): void {
    this.grammars.clear();
  }
}
