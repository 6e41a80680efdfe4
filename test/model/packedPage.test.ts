/**
 * The chat page as a user of the package gets it: `npm run build`, `npm pack`, the tarball installed
 * somewhere else, `llama-actors serve` from there, and the page loaded and used in Chromium.
 *
 * - The build runs in a staged copy of the repository (package.json, README.md, bin/, src/, the
 *   build script, the tsconfigs; node_modules symlinked), never here: a dist/ in this checkout
 *   would make bin/ run the compiled CLI for every other test, stale as soon as a source changes.
 * - Installing the tarball with `npm install <tarball> --offline` cannot work here (npm's cache lacks
 *   the dependencies and there is no network), so the tarball is unpacked into
 *   `<tmp>/node_modules/llama-actors/`, as npm would put it, and that copy gets a node_modules/ of
 *   symbolic links to this repository's copies of the package's own `dependencies` only (their
 *   dependencies resolve from where the links point): a devDependency such as tsx is not reachable,
 *   so a package whose bin/ would fall back to the TypeScript sources fails here.
 *
 * Takes about 15 s on 2 cores, most of it tsc (the build).
 */
import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT = { timeout: 15_000 };

let work: string;
let packed: string[];
let server: ChildProcessByStdio<null, Readable, Readable> | undefined;
let output = '';
let url: string;
let browser: Browser | undefined;

/** Stages the repository's package inputs in `stage`, with node_modules linked. */
async function stage(to: string): Promise<void> {
  await mkdir(join(to, 'scripts'), { recursive: true });
  for (const entry of ['package.json', 'README.md', 'bin', 'src', 'tsconfig.json', 'tsconfig.build.json']) {
    await cp(join(ROOT, entry), join(to, entry), { recursive: true });
  }
  await cp(join(ROOT, 'scripts', 'copy-public.mjs'), join(to, 'scripts', 'copy-public.mjs'));
  await symlink(join(ROOT, 'node_modules'), join(to, 'node_modules'), 'junction');
}

/** Unpacks `tarball` as `<dir>/node_modules/llama-actors` with links to its dependencies; returns the package folder. */
async function install(tarball: string, dir: string): Promise<string> {
  const pkg = join(dir, 'node_modules', 'llama-actors');
  await mkdir(pkg, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  const { dependencies } = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(dependencies)) {
    const link = join(pkg, 'node_modules', name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(ROOT, 'node_modules', name), link, 'junction');
  }
  return pkg;
}

beforeAll(async () => {
  const tinyPath = await ensureTinyModel();
  work = await mkdtemp(join(tmpdir(), 'llama-actors-packed-'));
  const staged = join(work, 'stage');
  await stage(staged);
  await run(NPM, ['run', 'build'], { cwd: staged });
  const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: staged });
  const [report] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = report!.files.map((f) => f.path);

  const installed = join(work, 'app');
  const pkg = await install(join(work, report!.filename), installed);
  server = spawn(process.execPath, [join(pkg, 'bin', 'llama-actors.mjs'), 'serve', '--model', tinyPath, '--data-dir', join(installed, 'data'),
    '--port', '0', '--threads', '1'], { cwd: installed, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LLAMA_ACTORS_MODEL: '' } });
  server.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    server!.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /serving model "tiny" at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    server!.once('exit', (code) => reject(new Error(`serve exited (${code}) before serving\nstdout:\n${stdout}\nstderr:\n${output}`)));
  });
});

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((resolve) => server!.once('exit', resolve));
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the chat page in the packed package', () => {
  it('the tarball carries the compiled CLI, the page and its favicon', () => {
    expect(packed).toEqual(expect.arrayContaining(['bin/llama-actors.mjs', 'dist/cli/main.js', 'dist/server/public/index.html', 'dist/server/public/favicon.svg']));
  });

  it('serve from the installed package answers GET / with the page and /favicon.ico', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status, await page.clone().text()).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<title>llama-actors chat</title>');
    expect(html).toBe(await readFile(join(ROOT, 'src', 'server', 'public', 'index.html'), 'utf8'));
    const icon = await fetch(`${url}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
  });

  it('the page streams a reply in Chromium, the first message starting a session', async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT.timeout);
    await page.goto(url);
    await expect.poll(() => page.getByTestId('model-select').inputValue(), WAIT).toBe('tiny');
    await page.getByTestId('max-tokens').fill('8');
    await page.getByTestId('message-input').fill('hello from the package');
    await page.getByTestId('send').click();
    const reply = page.locator('[data-testid="transcript"] [data-role="assistant"][data-state="done"]');
    await reply.waitFor(WAIT);
    expect(await reply.getAttribute('data-tokens')).toBe('8');
    expect(await page.getByTestId('error').textContent()).toBe('');
    const id = await page.getByTestId('session-select').inputValue();
    expect(id).not.toBe('');
    await expect.poll(() => page.getByTestId('session-select').locator('option:checked').textContent(), WAIT).toBe(`${id} · tiny · 2 messages`);
  });
});
