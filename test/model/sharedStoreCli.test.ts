/**
 * `serve --nats URL --store nats`: two front end processes (each with its own local model) keep
 * their sessions in one JetStream KV bucket of a real nats-server, so a session created and
 * continued through one is continued through the other, as a user behind a load balancer would
 * see it; neither takes the data directory's lock (they share one), and the one that loads second
 * does not take the first one's load under way for a crash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { NatsServer } from '../standalone/helpers/natsServer.js';
import { CliProcess } from './helpers/cliProcess.js';

let nats: NatsServer;
let dataDir: string;
const fronts: CliProcess[] = [];
const urls: string[] = [];

beforeAll(async () => {
  const tiny = await ensureTinyModel();
  nats = await NatsServer.start(undefined, { jetStream: true });
  dataDir = await mkdtemp(join(tmpdir(), 'la-shared-store-'));
  for (let i = 0; i < 2; i++) {
    const front = new CliProcess(['serve', '--nats', nats.url, '--store', 'nats', '--nats-bucket', 'shared-cli', '--model', tiny, '--port', '0', '--data-dir', dataDir,
      '--slots', '1', '--threads', '1', '--context-size', '512', '--isolation', 'in-process']);
    fronts.push(front);
  }
  for (const front of fronts) urls.push((await front.until(/serving model "tiny" at (http:\/\/\S+)/))[1] ?? '');
}, 120_000);

afterAll(async () => {
  await Promise.all(fronts.map((front) => front.stop()));
  await nats?.stop({ removeStore: true });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('two serve processes on one --store nats bucket', () => {
  it('continue one session through either, every turn in order', async () => {
    const [a = '', b = ''] = urls;
    expect((await post(a, '/sessions', { id: 'shared', model: 'tiny' })).status).toBeLessThan(300);
    for (const [i, url] of [a, b, a, b].entries()) {
      const turn = await post(url, '/sessions/shared/messages', { message: `turn ${i + 1}`, stream: false, params: { maxTokens: 3, temperature: 0 } });
      expect(turn.status, JSON.stringify(turn.json)).toBe(200);
    }
    for (const url of [a, b]) {
      const session = (await (await fetch(`${url}/sessions/shared`)).json()) as { turns: Array<{ role: string; content: string }> };
      expect(session.turns.filter((t) => t.role === 'user').map((t) => t.content)).toEqual(['turn 1', 'turn 2', 'turn 3', 'turn 4']);
      expect(session.turns.map((t) => t.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    }
    const listed = (await (await fetch(`${b}/sessions`)).json()) as unknown;
    expect(JSON.stringify(listed)).toContain('"shared"');
  });

  it('refuses --store nats without --nats, and a bad bucket name, as usage mistakes', async () => {
    const run = async (args: string[]) => {
      const cli = new CliProcess(args);
      cli.child.stdin.end();
      return { ...(await cli.exited), stderr: cli.stderr };
    };
    const [noNats, badBucket, bucketAlone] = await Promise.all([
      run(['serve', '--store', 'nats']),
      run(['serve', '--nats', nats.url, '--store', 'nats', '--nats-bucket', 'no spaces']),
      run(['serve', '--nats-bucket', 'x']),
    ]);
    expect([noNats.code, noNats.stderr]).toEqual([2, expect.stringContaining('--store nats needs --nats URL')]);
    expect([badBucket.code, badBucket.stderr]).toEqual([2, expect.stringContaining(`--nats-bucket must be 1-64 letters, digits, '_' or '-', got "no spaces"`)]);
    expect([bucketAlone.code, bucketAlone.stderr]).toEqual([2, expect.stringContaining('--nats-bucket needs --store nats')]);
  });
});
