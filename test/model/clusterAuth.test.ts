/**
 * NATS security passed through by the CLI, against a real nats-server that requires a token: a
 * worker without it exits 1 naming the authorization failure; a worker given it in
 * LLAMA_ACTORS_NATS_TOKEN and a front end given it with --nats-token-file form a cluster that
 * serves the openai client, the front end with a local model beside the cluster's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoModel, ensureTinyModel } from '../../scripts/make-models.js';
import { freePort } from '../standalone/helpers/natsServer.js';
import { CliProcess } from './helpers/cliProcess.js';

const TOKEN = 'cluster-s3cret';
let server: ChildProcess;
let natsUrl: string;
let dir: string;
let tinyPath: string;
const processes: CliProcess[] = [];

beforeAll(async () => {
  tinyPath = await ensureTinyModel();
  dir = await mkdtemp(join(tmpdir(), 'la-cluster-auth-'));
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  const port = await freePort();
  natsUrl = `nats://127.0.0.1:${port}`;
  server = spawn('nats-server', ['-p', String(port), '-a', '127.0.0.1', '--auth', TOKEN], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    server.stderr?.on('data', (data: Buffer) => {
      log += data.toString();
      if (log.includes('Server is ready')) resolve();
    });
    server.once('exit', () => reject(new Error(`nats-server exited:\n${log}`)));
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((cli) => cli.stop()));
  if (server && server.exitCode === null) {
    server.kill('SIGKILL');
    await once(server, 'exit');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const started = new CliProcess(args, env);
  processes.push(started);
  return started;
}

describe('a cluster on a nats-server that requires a token', () => {
  it('refuses a worker without the token: exit 1, naming the authorization failure', async () => {
    const worker = cli(['worker', '--nats', natsUrl, '--model', tinyPath, '--name', 'anon']);
    const { code } = await worker.exited;
    expect(code).toBe(1);
    expect(worker.stderr).toMatch(/llama-actors worker: could not connect to NATS nats:\/\/127\.0\.0\.1:\d+: .*(AUTHORIZATION|Authorization)/i);
  });

  it('serves through a worker and a front end given the token (environment, file)', async () => {
    const worker = cli(['worker', '--nats', natsUrl, '--model', tinyPath, '--name', 'authed', '--slots', '1', '--threads', '1', '--context-size', '256'], { LLAMA_ACTORS_NATS_TOKEN: TOKEN });
    await worker.until(/serving tiny on la\.worker\.authed\.connect/);
    // A front end with a local model beside the cluster's.
    const demoPath = await ensureDemoModel();
    const frontEnd = cli(['serve', '--nats', natsUrl, '--nats-token-file', join(dir, 'token'), '--model', demoPath, '--threads', '1', '--port', '0', '--data-dir', join(dir, 'data')]);
    const url = (await frontEnd.until(/serving model "demo" at (http:\/\/\S+)/))[1];
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    expect((await openai.models.list()).data.map((model) => model.id).sort()).toEqual(['demo', 'tiny']);
    for (const model of ['tiny', 'demo']) {
      const answer = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0 });
      expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    }
  });
});
