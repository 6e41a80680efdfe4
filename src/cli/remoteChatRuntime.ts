import type { Logger } from 'pino';
import type { ModelIsolation } from '../actors/ModelHost/types.js';
import { ModelMessage } from '../actors/ModelActor/types.js';
import { OpenAICompatibleProvider } from '../entities/OpenAICompatibleProvider.js';
import { describe } from '../messaging/errors.js';
import { CliError } from './args.js';
import { openWithoutLocalModel } from './openWithoutLocalModel.js';
import { publishRemotes, type RemoteFlag } from './remoteFlags.js';
import type { Runtime } from './runtime.js';

/** What `chat` needs of its runtime: a router, the sessions and the one model it talks to. */
export type ChatRuntime = Pick<Runtime, 'router' | 'sessions' | 'model' | 'modelId' | 'close'>;

/**
 * @internal `chat --remote`: no local model, the remote one published in the data directory (its
 * provider and model entities, as `serve --remote` does) and asked once, so a remote that does not
 * answer fails the command at once instead of its first turn.
 */
export async function openRemoteChatRuntime(remote: RemoteFlag, options: { dataDir: string; isolation: ModelIsolation; logger: Logger }): Promise<ChatRuntime> {
  const base = await openWithoutLocalModel({ ...options, command: 'chat' }, [new OpenAICompatibleProvider()], undefined);
  try {
    await publishRemotes(base.models, [remote]);
    const ref = await base.models.ref(remote.name);
    const info = await ref.ask(ModelMessage.Info, null, { timeout: 30_000 }).catch((error: unknown) => {
      throw new CliError(`remote ${remote.name} at ${remote.baseURL} is not answering: ${describe(error)}`, { cause: error });
    });
    process.stderr.write(`remote ${remote.name}: ${remote.model} at ${remote.baseURL}, ${info.contextSize} tokens of context\n`);
    return { router: base.router, sessions: base.sessions, model: ref.address, modelId: remote.name, close: base.close };
  } catch (error) {
    await base.close();
    throw error;
  }
}
