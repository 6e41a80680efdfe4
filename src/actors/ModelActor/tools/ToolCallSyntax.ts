import { type ChatWrapperSettings, LlamaText } from 'node-llama-cpp';

type Functions = ChatWrapperSettings['functions'];
type Piece = string | LlamaText;

/** `{{functionName}}` in a string part of a piece (node-llama-cpp's template parameter). */
function withName(piece: Piece | undefined, name: string): LlamaText {
  const text = LlamaText(piece ?? '');
  return LlamaText(text.values.map((value) => (typeof value === 'string' ? value.replaceAll('{{functionName}}', name) : value)));
}

/**
 * @internal How the model's family writes a tool call, from its chat wrapper's function settings
 * (node-llama-cpp knows each family's syntax: `||call: name(args)` by default, `<tool_call>` JSON
 * for Qwen and Hermes, `<function=name>` for Llama 3.1, ...). A call is always
 * `prefix name paramsPrefix arguments suffix`; several calls in one reply sit between a section
 * prefix and suffix, separated by `betweenCalls`, when the family has parallel calls.
 */
export class ToolCallSyntax {
  constructor(private readonly functions: Functions) {}

  /** Whether the family writes several calls in one reply. */
  get parallel(): boolean {
    return this.functions.parallelism !== undefined;
  }

  /**
   * Text whose appearance in a free reply means the model started a call: the stop strings of the
   * text phase. Leading whitespace is left out (the model may or may not write it).
   */
  get triggers(): string[] {
    const { call, parallelism } = this.functions;
    const prefixes = [call.prefix, ...(call.prefixAlternateMatches ?? [])];
    const sections = parallelism ? [parallelism.call.sectionPrefix, ...(parallelism.call.sectionPrefixAlternateMatches ?? [])] : [''];
    const found = new Set<string>();
    for (const section of sections) {
      for (const prefix of prefixes) {
        const text = LlamaText([section, prefix]).toString().trimStart();
        if (text.length > 0) found.add(text);
      }
    }
    return [...found];
  }

  /** What the model writes before call `index`'s name (the section prefix before the first call). */
  opening(index: number): LlamaText {
    const { call, parallelism } = this.functions;
    if (index === 0) return LlamaText([parallelism?.call.sectionPrefix ?? '', call.prefix]);
    return LlamaText([parallelism?.call.betweenCalls ?? '', call.prefix]);
  }

  /** What the model writes between a call's name and its arguments. */
  afterName(name: string): LlamaText {
    return withName(this.functions.call.paramsPrefix, name);
  }

  /** What ends a call. */
  closing(name: string): LlamaText {
    return withName(this.functions.call.suffix, name);
  }

  /** Text that starts another call after one ended (what the model writes if it calls again). */
  get nextCallTriggers(): string[] {
    const { call, parallelism } = this.functions;
    const between = LlamaText([parallelism?.call.betweenCalls ?? '', call.prefix]).toString().trimStart();
    const bare = LlamaText(call.prefix).toString().trimStart();
    return [...new Set([between, bare].filter((text) => text.length > 0))];
  }
}
