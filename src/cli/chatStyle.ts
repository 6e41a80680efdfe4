/** How the chat REPL sets its own text apart from the model's. */
export interface ChatStyle {
  dim(text: string): string;
  bold(text: string): string;
}

/** ANSI dim and bold on a terminal with colours; plain text otherwise (a pipe, a test). */
export function chatStyle(out: NodeJS.WriteStream): ChatStyle {
  const color = out.isTTY === true && out.hasColors?.() === true;
  return {
    dim: (text) => (color ? `\x1b[2m${text}\x1b[0m` : text),
    bold: (text) => (color ? `\x1b[1m${text}\x1b[0m` : text),
  };
}
