import { readFile } from 'node:fs/promises';
import { type ConnectionOptions, credsAuthenticator } from '@nats-io/nats-core';
import { type ParsedValues, stringFlag, UsageError, CliError } from './args.js';

/** Flags of the commands that join a NATS cluster (`worker`, `serve --nats`). */
export const NATS_OPTIONS = {
  nats: { type: 'string' },
  'nats-user': { type: 'string' },
  'nats-password-file': { type: 'string' },
  'nats-token-file': { type: 'string' },
  'nats-creds': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  // Refused with a pointer to the file or environment variable: a secret on the command line is readable by every user (ps).
  token: { type: 'string' },
  pass: { type: 'string' },
  password: { type: 'string' },
} as const;

export const NATS_FLAGS_HELP = `NATS flags:
      --nats URL         the NATS server(s), comma-separated (nats://host:4222)
      --nats-user NAME   user name; the password from $LLAMA_ACTORS_NATS_PASSWORD or
                         --nats-password-file FILE
      --nats-token-file F  a file holding the NATS token (default: $LLAMA_ACTORS_NATS_TOKEN)
      --nats-creds FILE  a NATS credentials file (JWT and nkey seed, as nsc writes it)
      --tls-ca FILE      CA certificate to verify the server with (turns TLS on)
      --tls-cert FILE    client certificate (with --tls-key) for mutual TLS
      --tls-key FILE     the client certificate's key
  Secrets are never taken on the command line (--token, --pass are refused: ps shows them).`;

async function secretFile(flag: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read --${flag} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const secret = text.trim();
  if (secret.length === 0 || /\s/.test(secret)) throw new UsageError(`--${flag} ${path} must hold one secret on one line`);
  return secret;
}

/** The `connect()` options the NATS flags ask for (servers, credentials, TLS); `undefined` without `--nats`. */
export async function natsConnectOptions(values: ParsedValues, env: NodeJS.ProcessEnv = process.env): Promise<ConnectionOptions | undefined> {
  for (const flag of ['token', 'pass', 'password']) {
    if (values[flag] !== undefined) {
      throw new UsageError(`--${flag} would show the secret to every user in ps: use --nats-token-file / --nats-password-file or $LLAMA_ACTORS_NATS_TOKEN / $LLAMA_ACTORS_NATS_PASSWORD`);
    }
  }
  const url = stringFlag(values, 'nats');
  const auth = ['nats-user', 'nats-password-file', 'nats-token-file', 'nats-creds', 'tls-ca', 'tls-cert', 'tls-key'].filter((flag) => values[flag] !== undefined);
  if (url === undefined) {
    if (auth.length > 0) throw new UsageError(`--${auth[0]} needs --nats URL`);
    return undefined;
  }
  const servers = url.split(',').map((server) => server.trim()).filter(Boolean);
  if (servers.length === 0) throw new UsageError('--nats needs a server URL (nats://host:4222)');
  const options: ConnectionOptions = { servers, name: 'llama-actors', maxReconnectAttempts: -1, reconnectTimeWait: 500 };
  const user = stringFlag(values, 'nats-user');
  const passwordFile = stringFlag(values, 'nats-password-file');
  if (user !== undefined) {
    const pass = passwordFile !== undefined ? await secretFile('nats-password-file', passwordFile) : env.LLAMA_ACTORS_NATS_PASSWORD || undefined;
    if (pass === undefined) throw new UsageError('--nats-user needs a password: set LLAMA_ACTORS_NATS_PASSWORD or pass --nats-password-file FILE');
    options.user = user;
    options.pass = pass;
  } else if (passwordFile !== undefined) throw new UsageError('--nats-password-file needs --nats-user NAME');
  const tokenFile = stringFlag(values, 'nats-token-file');
  const token = tokenFile !== undefined ? await secretFile('nats-token-file', tokenFile) : env.LLAMA_ACTORS_NATS_TOKEN || undefined;
  if (token !== undefined) options.token = token;
  const creds = stringFlag(values, 'nats-creds');
  if (creds !== undefined) {
    const bytes = await readFile(creds).catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read --nats-creds ${creds}: ${error.code ?? error.message}`);
    });
    options.authenticator = credsAuthenticator(new Uint8Array(bytes));
  }
  const [caFile, certFile, keyFile] = [stringFlag(values, 'tls-ca'), stringFlag(values, 'tls-cert'), stringFlag(values, 'tls-key')];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (caFile !== undefined || certFile !== undefined) {
    options.tls = { ...(caFile !== undefined ? { caFile } : {}), ...(certFile !== undefined ? { certFile } : {}), ...(keyFile !== undefined ? { keyFile } : {}) };
  }
  return options;
}
