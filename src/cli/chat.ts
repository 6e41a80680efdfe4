import { ActorKind, entityName } from '../entities/actorNames.js';
import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { createInterface } from 'node:readline';
import type { GenerationParams } from '../actors/ModelActor/types.js';
import { SessionMessage, type SessionHistory } from '../actors/SessionActor/types.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import type { SessionEntity } from '../entities/types.js';
import { type Address, parseAddress } from '../messaging/address.js';
import {
  ExitCode,
  intFlag,
  loadFlags,
  logLevel,
  MODEL_FLAGS_HELP,
  MODEL_OPTIONS,
  numberFlag,
  parse,
  stringFlag,
  UsageError,
} from './args.js';
import { createCliLogger } from './logger.js';
import { type Runtime, startRuntime } from './runtime.js';

export const CHAT_USAGE = `Usage: llama-actors chat [flags]

Chats with a model in the terminal on a session that is kept in the data directory, so a later
\`llama-actors chat --session ID\` continues the conversation. Replies stream as they are generated.

  Ctrl-C while a reply streams   cancels that reply (the turn is not kept)
  Ctrl-C at the prompt, Ctrl-D   quits
  /history                       prints the conversation
  /reset                         forgets every turn (the system prompt stays)
  /help                          lists the commands
  /exit                          quits

Chat flags:
      --session ID       the session to continue, created if missing (default: chat)
      --system TEXT      system prompt of a new session (replaces an existing session's)
      --max-tokens N     longest reply in tokens (default: 256)
      --temperature T    0 (greedy) to 2 (default: 0.7)

${MODEL_FLAGS_HELP.replace('COMMAND_DEFAULT', 'warn')}

Examples:
  llama-actors chat
  llama-actors chat --model ~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --session notes --system "Be brief."`;

const CHAT_OPTIONS = {
  ...MODEL_OPTIONS,
  session: { type: 'string' },
  system: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
} as const;

const COMMANDS_HELP = `/history  print the conversation
/reset    forget every turn (the system prompt stays)
/exit     quit (also Ctrl-C at the prompt, or Ctrl-D)
Ctrl-C while a reply streams cancels that reply.`;

/** `llama-actors chat`: resolves with the exit code when the user quits. */
export async function chat(args: string[]): Promise<number> {
  const { values } = parse(args, CHAT_OPTIONS);
  if (values.help) {
    process.stdout.write(`${CHAT_USAGE}\n`);
    return ExitCode.Ok;
  }
  const sessionId = stringFlag(values, 'session') ?? 'chat';
  try {
    parseAddress(sessionId);
  } catch (error) {
    throw new UsageError(`--session: ${(error as Error).message}`);
  }
  const maxTokens = intFlag(values, 'max-tokens', 1);
  const temperature = numberFlag(values, 'temperature', 0, 2);
  const params: GenerationParams = {
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(temperature === undefined ? {} : { temperature }),
  };
  const logger = await createCliLogger(logLevel(values, 'warn'));
  const runtime = await startRuntime({
    model: stringFlag(values, 'model'),
    load: loadFlags(values),
    dataDir: stringFlag(values, 'data-dir') ?? '.llama-actors',
    logger,
  });
  try {
    const session = await openSession(runtime, sessionId, stringFlag(values, 'system'));
    return await converse(runtime, session, params);
  } finally {
    await runtime.close();
  }
}

/** Loads the session, or creates it; a session of another model (or system prompt) is moved onto this one. */
async function openSession(runtime: Runtime, id: string, system: string | undefined): Promise<{ address: Address; turns: number }> {
  const { sessions, model } = runtime;
  let existing: SessionEntity | undefined;
  try {
    existing = await sessions.get(id);
  } catch (error) {
    if (!(error instanceof EntityNotFoundError)) throw error;
  }
  if (!existing) {
    return { address: await sessions.create({ id, model, ...(system === undefined ? {} : { systemPrompt: system }) }), turns: 0 };
  }
  const otherModel = existing.model !== model;
  const otherSystem = system !== undefined && system !== existing.systemPrompt;
  if (!otherModel && !otherSystem) return { address: await sessions.load(id), turns: existing.turns.length };
  // Rewrite the stored session (history kept) through export → delete → import.
  const document = await sessions.export(id);
  await sessions.delete(id);
  const session: SessionEntity = { ...document.session, model, ...(otherSystem ? { systemPrompt: system } : {}) };
  const address = await sessions.import({ ...document, session }, { id });
  const changes = [otherModel ? `model ${existing.model} → ${model}` : '', otherSystem ? 'new system prompt' : ''].filter(Boolean);
  process.stderr.write(`session ${id}: ${changes.join(', ')} (history kept)\n`);
  return { address, turns: existing.turns.length };
}

async function converse(runtime: Runtime, session: { address: Address; turns: number }, params: GenerationParams): Promise<number> {
  const { router } = runtime;
  const out = process.stdout;
  const color = out.isTTY === true && out.hasColors?.() === true;
  const dim = (text: string) => (color ? `\x1b[2m${text}\x1b[0m` : text);
  const bold = (text: string) => (color ? `\x1b[1m${text}\x1b[0m` : text);
  const terminal = process.stdin.isTTY === true && out.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: out, terminal, historySize: terminal ? 100 : 0 });
  rl.setPrompt(bold('you> '));

  let turn: AbortController | undefined;
  let quitting = false;
  const quit = () => {
    quitting = true;
    turn?.abort();
    rl.close();
  };
  // Ctrl-C: on a terminal readline reads it as a key and emits 'SIGINT'; otherwise it is a signal.
  const interrupt = () => {
    if (turn) turn.abort();
    else {
      out.write('\n');
      quit();
    }
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', quit);

  const id = entityName(ActorKind.Session, session.address);
  out.write(
    `${bold(`chat on session "${id}"`)} with ${runtime.modelId}${session.turns ? ` (${session.turns} turns so far)` : ''}. ` +
      `${dim('/help for commands, Ctrl-C cancels a reply, /exit or Ctrl-C at the prompt quits.')}\n`,
  );

  const chat = router.ref(session.address, sessionProtocol);
  const generate = async (message: string) => {
    const controller = new AbortController();
    turn = controller;
    out.write(bold('assistant> '));
    try {
      const result = await chat.streamAsk(
        SessionMessage.Inference,
        { message, params },
        {
          signal: controller.signal,
          timeout: Infinity,
          onChunk: (event) => {
            if (event.type === 'token' && event.content) out.write(event.content);
          },
        },
      );
      out.write('\n');
      if (controller.signal.aborted) out.write(`${dim('(cancelled: this turn is not kept)')}\n`);
      else if (result.error) out.write(`[error ${result.error.code}] ${result.error.message}\n`);
      else {
        const rate = result.tokensPerSecond > 0 ? `, ${result.tokensPerSecond.toFixed(1)} tokens/s` : '';
        out.write(`${dim(`(${result.tokenCount} tokens${rate}, ${result.finishReason})`)}\n`);
      }
    } catch (error) {
      const { code, message: text } = error as { code?: string; message?: string };
      out.write(`\n[error${code ? ` ${code}` : ''}] ${text ?? String(error)}\n`);
    } finally {
      turn = undefined;
    }
  };

  const command = async (line: string): Promise<void> => {
    const name = line.split(/\s+/)[0];
    switch (name) {
      case '/exit':
      case '/quit':
        quit();
        return;
      case '/help':
        out.write(`${COMMANDS_HELP}\n`);
        return;
      case '/reset':
        await chat.ask(SessionMessage.Reset, null);
        out.write(`${dim('(history cleared)')}\n`);
        return;
      case '/history': {
        const history = await chat.ask(SessionMessage.History, null);
        if (history.systemPrompt !== undefined) out.write(`${dim('system:')} ${history.systemPrompt}\n`);
        if (history.turns.length === 0) out.write(`${dim('(no turns yet)')}\n`);
        history.turns.forEach((t, index) => {
          const shifted = index < history.contextStart ? dim(' (out of context)') : '';
          out.write(`${dim(`${t.role}:`)}${shifted} ${t.content}\n`);
        });
        return;
      }
      default:
        out.write(`unknown command ${name}; /help lists them\n`);
    }
  };

  try {
    rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (line.startsWith('/')) {
        try {
          await command(line);
        } catch (error) {
          out.write(`[error] ${(error as Error).message}\n`);
        }
      } else if (line) await generate(line);
      if (quitting) break;
      rl.prompt();
    }
  } finally {
    rl.close();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', quit);
  }
  return ExitCode.Ok;
}
