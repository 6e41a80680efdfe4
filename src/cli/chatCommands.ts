import type { SessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { SessionMessage } from '../actors/SessionActor/types.js';
import type { ActorRef } from '../messaging/ActorRef.js';
import type { ChatStyle } from './chatStyle.js';

const COMMANDS_HELP = `/history  print the conversation
/reset    forget every turn (the system prompt stays)
/exit     quit (also Ctrl-C at the prompt, or Ctrl-D)
Ctrl-C while a reply streams cancels that reply.`;

/** What a slash command of the chat REPL acts on. */
export interface ChatCommandContext {
  chat: ActorRef<SessionProtocol>;
  out: NodeJS.WriteStream;
  style: ChatStyle;
  /** Ends the REPL after this line. */
  quit(): void;
}

/**
 * Runs one slash command of the chat REPL (`/history`, `/reset`, `/help`, `/exit`); an unknown one
 * is named back. A session that fails rejects, and the REPL prints it.
 */
export async function chatCommand(line: string, context: ChatCommandContext): Promise<void> {
  const { chat, out, style } = context;
  const name = line.split(/\s+/)[0];
  switch (name) {
    case '/exit':
    case '/quit':
      context.quit();
      return;
    case '/help':
      out.write(`${COMMANDS_HELP}\n`);
      return;
    case '/reset':
      await chat.ask(SessionMessage.Reset, null);
      out.write(`${style.dim('(history cleared)')}\n`);
      return;
    case '/history': {
      const history = await chat.ask(SessionMessage.History, null);
      if (history.systemPrompt !== undefined) out.write(`${style.dim('system:')} ${history.systemPrompt}\n`);
      if (history.turns.length === 0) out.write(`${style.dim('(no turns yet)')}\n`);
      history.turns.forEach((t, index) => {
        const shifted = index < history.contextStart ? style.dim(' (out of context)') : '';
        out.write(`${style.dim(`${t.role}:`)}${shifted} ${t.content}\n`);
      });
      return;
    }
    default:
      out.write(`unknown command ${name}; /help lists them\n`);
  }
}
