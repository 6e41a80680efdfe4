/**
 * The CLI's NATS flags (`worker`, `serve --nats`) as connect() options: servers, user and password,
 * token, credentials file and TLS files passed through; secrets taken from files or the
 * environment only (a secret on the command line is readable by every user with ps).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, UsageError } from '../../src/cli/args.js';
import { NATS_OPTIONS, natsConnectOptions } from '../../src/cli/natsFlags.js';

let dir: string;
const flags = (args: string[]) => parse(args, NATS_OPTIONS).values;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'la-nats-flags-'));
  await writeFile(join(dir, 'token'), 's3cret-token\n');
  await writeFile(join(dir, 'password'), 'pa55\n');
  await writeFile(join(dir, 'two-lines'), 'a\nb\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NATS flags', () => {
  it('are nothing without --nats, and need it when given', async () => {
    expect(await natsConnectOptions(flags([]), {})).toBeUndefined();
    await expect(natsConnectOptions(flags(['--nats-creds', 'x.creds']), {})).rejects.toThrow(/--nats-creds needs --nats URL/);
  });

  it('take several servers and reconnect for ever', async () => {
    const options = await natsConnectOptions(flags(['--nats', 'nats://a:4222, nats://b:4222']), {});
    expect(options).toMatchObject({ servers: ['nats://a:4222', 'nats://b:4222'], maxReconnectAttempts: -1 });
    expect(options?.token).toBeUndefined();
  });

  it('refuse a secret on the command line, pointing to the file flag and the variable', async () => {
    for (const flag of ['--token', '--pass', '--password']) {
      const attempt = natsConnectOptions(flags(['--nats', 'nats://a:4222', flag, 'x']), {});
      await expect(attempt).rejects.toBeInstanceOf(UsageError);
      await expect(attempt).rejects.toThrow(/ps: use --nats-token-file/);
    }
  });

  it('read the token from its file or from LLAMA_ACTORS_NATS_TOKEN', async () => {
    expect((await natsConnectOptions(flags(['--nats', 'nats://a', '--nats-token-file', join(dir, 'token')]), {}))?.token).toBe('s3cret-token');
    expect((await natsConnectOptions(flags(['--nats', 'nats://a']), { LLAMA_ACTORS_NATS_TOKEN: 'from-env' }))?.token).toBe('from-env');
    await expect(natsConnectOptions(flags(['--nats', 'nats://a', '--nats-token-file', join(dir, 'two-lines')]), {})).rejects.toThrow(/one secret on one line/);
    await expect(natsConnectOptions(flags(['--nats', 'nats://a', '--nats-token-file', join(dir, 'missing')]), {})).rejects.toThrow(/cannot read --nats-token-file .*ENOENT/);
  });

  it('take a user with the password from its file or LLAMA_ACTORS_NATS_PASSWORD, and refuse one without', async () => {
    expect(await natsConnectOptions(flags(['--nats', 'nats://a', '--nats-user', 'svc', '--nats-password-file', join(dir, 'password')]), {})).toMatchObject({ user: 'svc', pass: 'pa55' });
    expect(await natsConnectOptions(flags(['--nats', 'nats://a', '--nats-user', 'svc']), { LLAMA_ACTORS_NATS_PASSWORD: 'env-pass' })).toMatchObject({ user: 'svc', pass: 'env-pass' });
    await expect(natsConnectOptions(flags(['--nats', 'nats://a', '--nats-user', 'svc']), {})).rejects.toThrow(/--nats-user needs a password/);
  });

  it('pass the TLS files through, the certificate only with its key', async () => {
    const options = await natsConnectOptions(flags(['--nats', 'tls://a', '--tls-ca', 'ca.pem', '--tls-cert', 'c.pem', '--tls-key', 'k.pem']), {});
    expect(options?.tls).toEqual({ caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem' });
    await expect(natsConnectOptions(flags(['--nats', 'tls://a', '--tls-cert', 'c.pem']), {})).rejects.toThrow(/--tls-cert and --tls-key go together/);
  });

  it('turn a credentials file into an authenticator, and name one it cannot read', async () => {
    const creds = join(dir, 'user.creds');
    await writeFile(creds, '-----BEGIN NATS USER JWT-----\neyJ0eXAi\n------END NATS USER JWT------\n');
    expect(typeof (await natsConnectOptions(flags(['--nats', 'nats://a', '--nats-creds', creds]), {}))?.authenticator).toBe('function');
    await expect(natsConnectOptions(flags(['--nats', 'nats://a', '--nats-creds', join(dir, 'none.creds')]), {})).rejects.toThrow(/cannot read --nats-creds .*ENOENT/);
  });
});
