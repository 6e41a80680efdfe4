import { ActorKind, entityName } from '../entities/actorNames.js';
import { sessionProtocol } from '../actors/SessionActor/sessionProtocol.js';
import { createInterface, type Interface } from 'node:readline';
import type { GenerationParams } from '../actors/ModelActor/types.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import type { SessionEntity } from '../entities/types.js';
import { type Address, parseAddress } from '../messaging/address.js';
import {
  ExitCode,
  intFlag,
  isolationFlag,
  loadFlags,
  logLevel,
  MODEL_FLAGS_HELP,
  MODEL_OPTIONS,
  numberFlag,
  parse,
  stringFlag,
  UsageError,
} from './args.js';
import { chatCommand } from './chatCommands.js';
import { chatStyle } from './chatStyle.js';
import { chatTurn } from './chatTurn.js';
import { createCliLogger } from './logger.js';
import { startRuntime } from './runtime.js';
import { type ChatRuntime, openRemoteChatRuntime } from './remoteChatRuntime.js';
import { REMOTE_OPTIONS, remoteFlags } from './remoteFlags.js';

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

Remote model:
      --remote SPEC      chat with a model of a remote OpenAI-compatible server instead of a local
                         one: name=URL[,model=NAME][,key-env=VAR][,concurrency=N][,vision], as for
                         serve --remote (the session is kept here, the remote sees each turn's history)

Examples:
  llama-actors chat
  VLLM_KEY=… llama-actors chat --remote qwen=http://gpu:8000/v1,model=Qwen/Qwen2.5-7B-Instruct,key-env=VLLM_KEY
  llama-actors chat --model ~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf --session notes --system "Be brief."`;

const CHAT_OPTIONS = {
  ...MODEL_OPTIONS,
  ...REMOTE_OPTIONS,
  session: { type: 'string' },
  system: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
} as const;

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
  const isolation = isolationFlag(values);
  const remotes = remoteFlags(values);
  const [remote] = remotes;
  if (remotes.length > 1) throw new UsageError(`--remote is given ${remotes.length} times: chat talks to one model`);
  if (remote && stringFlag(values, 'model') !== undefined) throw new UsageError('--remote and --model: chat talks to one model, give one of them');
  const logger = await createCliLogger(logLevel(values, 'warn'));
  const dataDir = stringFlag(values, 'data-dir') ?? '.llama-actors';
  const runtime: ChatRuntime = remote
    ? await openRemoteChatRuntime(remote, { dataDir, isolation, logger })
    : await startRuntime({ model: stringFlag(values, 'model'), load: loadFlags(values), isolation, dataDir, logger });
  try {
    const session = await openSession(runtime, sessionId, stringFlag(values, 'system'));
    return await converse(runtime, session, params);
  } finally {
    await runtime.close();
  }
}

/** Loads the session, or creates it; a session of another model (or system prompt) is moved onto this one. */
async function openSession(runtime: ChatRuntime, id: string, system: string | undefined): Promise<{ address: Address; turns: number }> {
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

/** Ctrl-C and SIGTERM in the REPL, and the turn they cancel. */
interface ChatControl {
  readonly quitting: boolean;
  quit(): void;
  /** Runs one reply with the signal that Ctrl-C aborts. */
  turn(run: (signal: AbortSignal) => Promise<void>): Promise<void>;
  /** Removes the process handlers (the REPL's own go with it). */
  dispose(): void;
}

/** Ctrl-C cancels the reply being generated, or quits at the prompt; SIGTERM quits. */
function chatControl(rl: Interface, out: NodeJS.WriteStream): ChatControl {
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
  return {
    get quitting() {
      return quitting;
    },
    quit,
    async turn(run) {
      const controller = new AbortController();
      turn = controller;
      try {
        await run(controller.signal);
      } finally {
        turn = undefined;
      }
    },
    dispose() {
      process.off('SIGINT', interrupt);
      process.off('SIGTERM', quit);
    },
  };
}

/** The REPL: a line is a turn, or a slash command; it ends on /exit, Ctrl-C at the prompt or end of input. */
async function converse(runtime: ChatRuntime, session: { address: Address; turns: number }, params: GenerationParams): Promise<number> {
  const out = process.stdout;
  const style = chatStyle(out);
  const terminal = process.stdin.isTTY === true && out.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: out, terminal, historySize: terminal ? 100 : 0 });
  rl.setPrompt(style.bold('you> '));
  const control = chatControl(rl, out);

  const id = entityName(ActorKind.Session, session.address);
  out.write(
    `${style.bold(`chat on session "${id}"`)} with ${runtime.modelId}${session.turns ? ` (${session.turns} turns so far)` : ''}. ` +
      `${style.dim('/help for commands, Ctrl-C cancels a reply, /exit or Ctrl-C at the prompt quits.')}\n`,
  );

  const chat = runtime.router.ref(session.address, sessionProtocol);
  try {
    rl.prompt();
    for await (const raw of rl) {
      const line = raw.trim();
      if (line.startsWith('/')) {
        try {
          await chatCommand(line, { chat, out, style, quit: control.quit });
        } catch (error) {
          out.write(`[error] ${(error as Error).message}\n`);
        }
      } else if (line) await control.turn((signal) => chatTurn(chat, line, { params, out, style, signal }));
      if (control.quitting) break;
      rl.prompt();
    }
  } finally {
    rl.close();
    control.dispose();
  }
  return ExitCode.Ok;
}
