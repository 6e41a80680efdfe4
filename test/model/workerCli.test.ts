/**
 * `llama-actors worker` and `serve --nats` refusing what they cannot run, as a user sees it (exit
 * code 2 for a usage mistake, 1 for a failure, one line on stderr), without starting a model.
 */
import { describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { freePort } from '../standalone/helpers/natsServer.js';
import { CliProcess } from './helpers/cliProcess.js';

async function run(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const cli = new CliProcess(args);
  cli.child.stdin.end();
  const { code } = await cli.exited;
  return { code, stderr: cli.stderr, stdout: cli.stdout };
}

describe('the worker command line', () => {
  it('names each mistake and exits 2, or 1 when NATS cannot be reached', async () => {
    const tiny = await ensureTinyModel();
    const closed = `nats://127.0.0.1:${await freePort()}`;
    const [noNats, noModel, badName, twice, token, unreachable, help] = await Promise.all([
      run(['worker', '--model', tiny]),
      run(['worker', '--nats', closed]),
      run(['worker', '--nats', closed, '--model', tiny, '--name', 'no spaces']),
      run(['worker', '--nats', closed, '--model', tiny, '--model', tiny]),
      run(['serve', '--nats', closed, '--token', 'x']),
      run(['worker', '--nats', closed, '--model', tiny, '--name', 'w1']),
      run(['worker', '--help']),
    ]);
    expect([noNats.code, noNats.stderr]).toEqual([2, expect.stringMatching(/^llama-actors worker: worker needs --nats URL/)]);
    expect([noModel.code, noModel.stderr]).toEqual([2, expect.stringMatching(/worker needs at least one --model PATH/)]);
    expect([badName.code, badName.stderr]).toEqual([2, expect.stringMatching(/--name: a worker id must be 1-128 letters, digits, '_' or '-', got "no spaces"/)]);
    expect([twice.code, twice.stderr]).toEqual([2, expect.stringMatching(/two --model files have the id tiny/)]);
    expect([token.code, token.stderr]).toEqual([2, expect.stringMatching(/--token would show the secret to every user in ps/)]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/llama-actors worker: could not connect to NATS nats:\/\/127\.0\.0\.1:\d+: /);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('Usage: llama-actors worker --nats URL --model PATH')]);
    expect(help.stdout).not.toContain('--data-dir');
  });
});
