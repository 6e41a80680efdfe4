import type { Logger } from 'pino';
import { ModelMessage } from '../actors/ModelActor/types.js';
import type { ModelManager } from '../entities/ModelManager.js';
import { ProviderKind, type RemoteModelSpec } from '../entities/types.js';
import { address, MAX_ACTOR_ID_LENGTH } from '../messaging/address.js';
import { describe } from '../messaging/errors.js';
import { type ParsedValues, UsageError } from './args.js';

/** One `--remote name=url[,model=…,key-env=VAR,concurrency=N,vision]`, checked. */
export interface RemoteFlag {
  /** The model's id here (and its provider's). */
  name: string;
  /** The remote's API root. */
  baseURL: string;
  /** The model's name on the remote. Defaults to `name`. */
  model: string;
  /** The environment variable holding the remote's API key. */
  keyEnv?: string;
  maxConcurrent?: number;
  vision?: boolean;
}

export const REMOTE_OPTIONS = {
  remote: { type: 'string', multiple: true },
} as const;

export const REMOTE_FLAGS_HELP = `Remote providers:
      --remote SPEC      serve a model of a remote OpenAI-compatible server (vLLM, llama.cpp's
                         llama-server, Ollama's /v1, a hosted API, another llama-actors) as a model
                         of this one, sessions and every API included; repeatable. SPEC is
                         name=URL[,model=NAME][,key-env=VAR][,concurrency=N][,vision]: URL the API
                         root (http://host:8000/v1), NAME the model's name there (default: name),
                         VAR the environment variable holding its API key (the key is never stored
                         or passed on the command line), N the requests in flight there at once
                         (default: 4), vision if it takes images. Without --model, only remote
                         models are served.`;

const KEYS = new Set(['model', 'key-env', 'concurrency', 'vision']);

/** The `--remote` flags; a {@link UsageError} naming the flag for anything malformed. */
export function remoteFlags(values: ParsedValues): RemoteFlag[] {
  const raw = values.remote;
  const specs = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  const flags = specs.map(remoteFlag);
  const names = new Set<string>();
  for (const flag of flags) {
    if (names.has(flag.name)) throw new UsageError(`--remote ${flag.name} is given twice`);
    names.add(flag.name);
  }
  return flags;
}

function remoteFlag(spec: string): RemoteFlag {
  const [head = '', ...rest] = spec.split(',');
  const equals = head.indexOf('=');
  const usage = (why: string) => new UsageError(`--remote ${JSON.stringify(spec)}: ${why} (want name=URL[,model=NAME][,key-env=VAR][,concurrency=N][,vision])`);
  if (equals <= 0) throw usage('no name=URL');
  const name = head.slice(0, equals);
  const baseURL = head.slice(equals + 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(name) || name.length > MAX_ACTOR_ID_LENGTH - 6) throw usage(`name ${JSON.stringify(name)} is not a valid model id`);
  if (!/^https?:\/\/[^\s/]+/.test(baseURL)) throw usage(`URL ${JSON.stringify(baseURL)} is not http:// or https://`);
  const flag: RemoteFlag = { name, baseURL, model: name };
  for (const option of rest) {
    const [key = '', value] = option.split('=', 2) as [string, string | undefined];
    if (!KEYS.has(key)) throw usage(`unknown option ${JSON.stringify(key)}`);
    if (key === 'vision') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw usage('vision takes no value, or true / false');
      flag.vision = value !== 'false';
    } else if (value === undefined || value === '') {
      throw usage(`${key} needs a value`);
    } else if (key === 'model') {
      flag.model = value;
    } else if (key === 'key-env') {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw usage(`key-env ${JSON.stringify(value)} is not an environment variable name`);
      flag.keyEnv = value;
    } else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 1_024) throw usage(`concurrency must be an integer from 1 to 1024, got ${value}`);
      flag.maxConcurrent = n;
    }
  }
  return flag;
}

/** Publishes each remote as a provider and a model of the same id. */
export async function publishRemotes(models: ModelManager, remotes: readonly RemoteFlag[]): Promise<void> {
  for (const remote of remotes) {
    await models.publishProvider({
      id: remote.name,
      kind: ProviderKind.OpenAICompatible,
      settings: { baseURL: remote.baseURL, ...(remote.keyEnv ? { apiKeyEnv: remote.keyEnv } : {}) },
    });
    const spec: RemoteModelSpec = {
      model: remote.model,
      ...(remote.maxConcurrent === undefined ? {} : { maxConcurrent: remote.maxConcurrent }),
      ...(remote.vision === undefined ? {} : { vision: remote.vision }),
    };
    await models.publishModel({ id: remote.name, provider: address(remote.name), remote: spec });
  }
}

/**
 * Starts each remote model and asks the remote about it once. A remote that does not answer is
 * logged, not fatal: the server starts, and each request to that model gets the typed error.
 */
export async function startRemotes(models: ModelManager, remotes: readonly RemoteFlag[], logger: Logger, status: NodeJS.WritableStream = process.stderr): Promise<void> {
  await Promise.all(
    remotes.map(async (remote) => {
      try {
        const ref = await models.ref(remote.name);
        const info = await ref.ask(ModelMessage.Info, null, { timeout: 30_000 });
        status.write(`remote ${remote.name}: ${remote.model} at ${remote.baseURL}, ${info.contextSize} tokens of context, ${info.slots} at once\n`);
      } catch (error) {
        logger.warn({ err: error, remote: remote.name, url: remote.baseURL }, 'remote model not answering');
        status.write(`remote ${remote.name}: not answering (${describe(error)}); requests to it fail until it does\n`);
      }
    }),
  );
}
