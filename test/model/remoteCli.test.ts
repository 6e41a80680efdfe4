/**
 * `llama-actors serve --remote` end to end: a real llama.cpp `llama-server` serving the tiny model,
 * and `llama-actors serve` in a child process with no `--model`, so the remote model is the only
 * one. The `openai` client talks to our server: a streamed completion, the model list, an abort that
 * reaches llama-server (its slot is freed), providers and models published over HTTP, and the
 * flag's usage errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import { CliProcess } from './helpers/cliProcess.js';
import { idleWithin, type LlamaServerProcess, logWithin, startLlamaServer } from './helpers/llamaServer.js';

let server: LlamaServerProcess;
let cli: CliProcess;
let dataDir: string;
let url: string;
let client: OpenAI;

async function streamText(model: string, maxTokens = 8): Promise<{ text: string; finish: string | null | undefined }> {
  const stream = await client.chat.completions.create({ model, stream: true, max_tokens: maxTokens, messages: [{ role: 'user', content: 'Hello!' }] });
  let text = '';
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

/** Runs the CLI to its exit; one still running after `timeoutMs` (a flag that was not refused) is killed. */
async function run(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stderr: string }> {
  const child = new CliProcess(args);
  child.child.stdin.end();
  const timer = setTimeout(() => child.child.kill('SIGKILL'), timeoutMs);
  const { code } = await child.exited;
  clearTimeout(timer);
  return { code, stderr: child.stderr };
}

beforeAll(async () => {
  server = await startLlamaServer({ model: await ensureTinyModel(), slots: 2, extraArgs: ['--context-shift'] });
  dataDir = await mkdtemp(join(tmpdir(), 'la-remote-cli-'));
  cli = new CliProcess(['serve', '--remote', `tiny=${server.baseURL},model=tiny,concurrency=2`, '--port', '0', '--data-dir', dataDir]);
  url = (await cli.until(/serving model "tiny" at (http:\/\/\S+)/, 60_000))[1] ?? '';
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
});

afterAll(async () => {
  await cli?.stop();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('llama-actors serve --remote, in front of llama-server', () => {
  it('serves only the remote model: a streamed chat completion arrives, /v1/models lists tiny', async () => {
    // Written before the banner, but on stderr: its own pipe may deliver it a moment later.
    const line = new RegExp(`remote tiny: tiny at ${server.baseURL.replace(/[.]/g, '\\.')}, 512 tokens of context, 2 at once`);
    for (let i = 0; i < 100 && !line.test(cli.stderr); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cli.stderr).toMatch(line);
    const { text, finish } = await streamText('tiny');
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    const listed = await client.models.list();
    expect(listed.data.map((model) => model.id)).toEqual(['tiny']);
  });

  it("a client's abort of a streamed request through our server frees llama-server's slot", async () => {
    const stream = await client.chat.completions.create({
      model: 'tiny',
      stream: true,
      max_tokens: 200_000, // over a minute of generation on one thread, with the end tokens banned
      logit_bias: { 2: -100, 4: -100 },
      messages: [{ role: 'user', content: 'Tell me a long story' }],
    });
    let chunks = 0;
    let sawProcessing = false;
    let abortedAt = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++chunks === 3) {
        sawProcessing = (await server.slots()).some((slot) => slot.is_processing);
        abortedAt = performance.now();
        stream.controller.abort();
        break;
      }
    }
    expect(chunks).toBe(3);
    expect(sawProcessing).toBe(true);
    const idleAfterMs = await idleWithin(server, 3_000);
    console.log(`llama-server: every slot idle ${idleAfterMs.toFixed(1)} ms after the client left (${(performance.now() - abortedAt).toFixed(0)} ms since)`);
    expect(idleAfterMs).toBeLessThan(3_000);
    expect(await logWithin(server, /cancel task/, 3_000)).toMatch(/cancel task/);
    // Both remote places free again: two requests at once are served.
    const [a, b] = await Promise.all([streamText('tiny', 4), streamText('tiny', 4)]);
    expect([a.finish, b.finish]).toEqual(['length', 'length']);
  });

  it('POST /providers with settings.apiKey is 400 and stores nothing', async () => {
    const response = await fetch(`${url}/providers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'leaky', kind: 'openai-compatible', settings: { baseURL: server.baseURL, apiKey: 'sekret' } }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(['INVALID_ARGUMENT', 'INVALID_ENTITY']).toContain(body.error.code);
    expect(body.error.message).toMatch(/apiKey/);
    const listing = await fetch(`${url}/providers`);
    expect(listing.status).toBe(200);
    const { providers } = (await listing.json()) as { providers: Array<{ id: string }> };
    expect(providers.map((p) => p.id)).toContain('tiny');
    expect(providers.map((p) => p.id)).not.toContain('leaky');
    expect(JSON.stringify(providers)).not.toContain('sekret');
  });

  it('POST /providers then POST /models with remote: 201, and the new model streams', async () => {
    const provider = await fetch(`${url}/providers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ls', kind: 'openai-compatible', settings: { baseURL: server.baseURL } }),
    });
    expect(provider.status).toBe(201);
    const model = await fetch(`${url}/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'tiny-too', provider: 'ls', remote: { model: 'tiny' } }),
    });
    expect(model.status).toBe(201);
    const { text, finish } = await streamText('tiny-too', 6);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect((await client.models.list()).data.map((m) => m.id).sort()).toEqual(['tiny', 'tiny-too']);
  });

  it('a malformed --remote exits 2 with a message naming the flag', async () => {
    const cases = [
      [['--remote', 'nourl'], /--remote "nourl": no name=URL/],
      [['--remote', 'a=ftp://x'], /--remote "a=ftp:\/\/x": URL "ftp:\/\/x" is not http:\/\/ or https:\/\//],
      [['--remote', 'a=http://h,bogus=1'], /--remote "a=http:\/\/h,bogus=1": unknown option "bogus"/],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => run(['serve', ...args, '--port', '0', '--data-dir', join(dataDir, 'usage')])));
    for (const [i, [args, message]] of cases.entries()) {
      const result = results[i]!;
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain("Run 'llama-actors serve --help' for usage.");
    }
  });
});

describe('llama-actors chat --remote', () => {
  it('chats on a session kept here with a model of llama-server, continued by a second run; --remote with --model is a usage error', async () => {
    const args = ['chat', '--remote', `tiny=${server.baseURL}`, '--data-dir', join(dataDir, 'chat'), '--session', 'remote-chat', '--max-tokens', '6', '--temperature', '0'];
    const first = new CliProcess(args);
    await first.until(/chat on session "remote-chat" with tiny/);
    await first.until(/you> /);
    first.child.stdin.write('hello there\n');
    const [, reply] = await first.until(/assistant> (.+)\n\(6 tokens, [\d.]+ tokens\/s, length\)\n/);
    first.child.stdin.write('/exit\n');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stderr).toMatch(/remote tiny: tiny at http:\/\/127\.0\.0\.1:\d+\/v1, \d+ tokens of context/);

    const again = new CliProcess(args);
    await again.until(/with tiny \(2 turns so far\)/);
    again.child.stdin.write('/history\n');
    const [, stored] = await again.until(/user: hello there\nassistant: (.*)\n/);
    expect(stored).toBe(reply);
    again.child.stdin.end();
    expect(await again.exited).toEqual({ code: 0, signal: null });

    const both = await run(['chat', '--remote', `tiny=${server.baseURL}`, '--model', 'models/tiny.gguf', '--data-dir', join(dataDir, 'chat-usage')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--remote and --model: chat talks to one model');
  });
});
