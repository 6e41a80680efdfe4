import type { GenerationParams } from '../actors/ModelActor/types.js';
import type { SessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import type { ActorRef } from '../messaging/ActorRef.js';
import type { ChatStyle } from './chatStyle.js';

/** Where a turn of the chat REPL runs and writes. */
export interface ChatTurnOptions {
  params: GenerationParams;
  out: NodeJS.WriteStream;
  style: ChatStyle;
  /** Ctrl-C while the reply streams: the session drops a cancelled turn. */
  signal: AbortSignal;
}

/**
 * One turn of the chat REPL: streams the reply as it is generated, then a dim line with how it
 * ended. Never throws: an error is printed and the REPL goes on to the next prompt.
 */
export async function chatTurn(chat: ActorRef<SessionProtocol>, message: string, options: ChatTurnOptions): Promise<void> {
  const { params, out, style, signal } = options;
  out.write(style.bold('assistant> '));
  try {
    const result = await chat.streamAsk(
      SessionMessage.Inference,
      { message, params },
      {
        signal,
        // A reply takes as long as it takes; Ctrl-C is how the user stops it.
        timeout: Infinity,
        onChunk: (event) => {
          if (event.type === 'token' && event.content) out.write(event.content);
        },
      },
    );
    out.write('\n');
    if (signal.aborted) out.write(`${style.dim('(cancelled: this turn is not kept)')}\n`);
    else if (result.error) out.write(`[error ${result.error.code}] ${result.error.message}\n`);
    else {
      const rate = result.tokensPerSecond > 0 ? `, ${result.tokensPerSecond.toFixed(1)} tokens/s` : '';
      out.write(`${style.dim(`(${result.tokenCount} tokens${rate}, ${result.finishReason})`)}\n`);
    }
  } catch (error) {
    const { code, message: text } = error as { code?: string; message?: string };
    out.write(`\n[error${code ? ` ${code}` : ''}] ${text ?? String(error)}\n`);
  }
}
