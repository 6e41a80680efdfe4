import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultAllowedHosts, hostOf } from '../../src/server/allowedHosts.js';
import { bearerCheck } from '../../src/server/apiKeyCheck.js';
import { checkBodyDepth } from '../../src/server/bodyDepth.js';
import { confinedPath, confinePayloadPaths } from '../../src/server/confinedPath.js';
import { resolveHttpLimits } from '../../src/server/httpLimits.js';
import { SseWriter } from '../../src/server/SseWriter.js';

/** A response whose socket never drains: what a client that stopped reading looks like. */
class StalledResponse extends EventEmitter {
  destroyed = false;
  written: string[] = [];
  writeHead(): this {
    return this;
  }
  flushHeaders(): void {}
  write(text: string): boolean {
    this.written.push(text);
    return false;
  }
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
  end(): void {}
}

describe('SseWriter', () => {
  it('cuts a client that takes nothing for writeTimeoutMs instead of waiting for a drain forever', async () => {
    vi.useFakeTimers();
    try {
      const response = new StalledResponse();
      const controller = new AbortController();
      const sse = new SseWriter(response as unknown as ServerResponse, { signal: controller.signal, writeTimeoutMs: 1_000 });
      let settled: boolean | undefined;
      void sse.send({ n: 1 }).then((ok) => {
        settled = ok;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(settled).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(false);
      expect(response.destroyed).toBe(true);
      expect(await sse.send({ n: 2 })).toBe(false); // nothing more is written to a cut client
      expect(response.written).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a send waiting for a drain returns as soon as the client goes, and later sends return at once', async () => {
    const response = new StalledResponse();
    const controller = new AbortController();
    const sse = new SseWriter(response as unknown as ServerResponse, { signal: controller.signal, writeTimeoutMs: 60_000 });
    const pending = sse.send('a');
    controller.abort();
    expect(await pending).toBe(false);
    expect(await sse.send('b')).toBe(false);
    expect(response.written).toEqual(['data: a\n\n']);
  });
});

describe('path confinement', () => {
  let root: string;
  let allowed: string;
  let elsewhere: string;
  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'llama-actors-confine-')));
    allowed = join(root, 'models');
    elsewhere = join(root, 'elsewhere');
    await mkdir(join(allowed, 'sub'), { recursive: true });
    await mkdir(elsewhere);
    await writeFile(join(allowed, 'a.gguf'), 'x');
    await writeFile(join(elsewhere, 'secret.gguf'), 'x');
    await symlink(join(elsewhere, 'secret.gguf'), join(allowed, 'link.gguf'));
    await symlink(elsewhere, join(allowed, 'linked-dir'));
    await symlink(join(allowed, 'a.gguf'), join(elsewhere, 'back.gguf'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('resolves links before checking, for files that exist and files to be written', async () => {
    await expect(confinedPath([allowed], join(allowed, 'a.gguf'), 'model')).resolves.toBe(join(allowed, 'a.gguf'));
    await expect(confinedPath([allowed], join(allowed, 'sub', 'new', 'out.gguf'), 'output')).resolves.toBe(join(allowed, 'sub', 'new', 'out.gguf'));
    // A link from outside into the allowed directory is what it points at: allowed.
    await expect(confinedPath([allowed], join(elsewhere, 'back.gguf'), 'model')).resolves.toBe(join(allowed, 'a.gguf'));
    for (const escape of [
      join(allowed, 'link.gguf'),
      join(allowed, 'linked-dir', 'secret.gguf'),
      join(allowed, 'linked-dir', 'not-yet.gguf'),
      join(allowed, '..', 'elsewhere', 'secret.gguf'),
      allowed,
      '/etc/passwd',
    ]) {
      await expect(confinedPath([allowed], escape, 'model'), escape).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    }
    await expect(confinedPath([allowed], 'a\0b', 'model')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(confinedPath([allowed], 42, 'model')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('confines every path-valued field of a payload, however deeply nested, and leaves the rest alone', async () => {
    const inside = join(allowed, 'a.gguf');
    const confined = await confinePayloadPaths([allowed], {
      prompt: '/etc/passwd is just text here',
      adapters: [{ path: inside, scale: 1 }],
      options: { outputPath: join(allowed, 'out.gguf'), deeper: [{ checkpointDir: join(allowed, 'sub') }] },
    });
    expect(confined).toEqual({
      prompt: '/etc/passwd is just text here',
      adapters: [{ path: inside, scale: 1 }],
      options: { outputPath: join(allowed, 'out.gguf'), deeper: [{ checkpointDir: join(allowed, 'sub') }] },
    });
    for (const payload of [
      { options: { outputPath: join(elsewhere, 'victim.txt') } },
      { options: { adapterPath: join(allowed, 'linked-dir', 'x.gguf') } },
      { a: { b: { c: [{ d: { modelFile: '/etc/passwd' } }] } } },
      { adapter: join(allowed, 'link.gguf') },
      { adapters: ['/etc/hosts'] },
      { dataDir: '/tmp' },
    ]) {
      await expect(confinePayloadPaths([allowed], payload), JSON.stringify(payload)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    }
    let deep: unknown = { path: inside };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    await expect(confinePayloadPaths([allowed], deep)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('Host names, the API key check and the HTTP limits', () => {
  it('parses Host headers (ports, IPv6 brackets, trailing dots) and refuses malformed ones', () => {
    expect(hostOf('LocalHost:8080')).toBe('localhost');
    expect(hostOf('[::1]:8080')).toBe('::1');
    expect(hostOf('[::1]')).toBe('::1');
    expect(hostOf('example.com.')).toBe('example.com');
    for (const bad of [undefined, '', 'a b', 'user@host', 'host:port', '[::1', 'evil.example/x']) expect(hostOf(bad), String(bad)).toBeUndefined();
    expect(defaultAllowedHosts('127.0.0.1')).toEqual(['localhost', '127.0.0.1', '::1']);
    expect(defaultAllowedHosts('192.0.2.7')).toContain('192.0.2.7');
    expect(defaultAllowedHosts('0.0.0.0').length).toBeGreaterThan(3);
  });

  it('accepts exactly the right bearer token', () => {
    const check = bearerCheck('sekret');
    expect(check('Bearer sekret')).toBe(true);
    for (const wrong of [undefined, '', 'Bearer', 'Bearer sekre', 'Bearer sekret ', 'bearer sekret', 'Bearer SEKRET']) expect(check(wrong), String(wrong)).toBe(false);
  });

  it('validates the limits where they enter', () => {
    expect(resolveHttpLimits()).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, writeTimeoutMs: 30_000 });
    expect(() => resolveHttpLimits({ headersTimeoutMs: 0 })).toThrow('headersTimeoutMs must be a positive integer, got 0');
    expect(() => resolveHttpLimits({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 })).toThrow(
      'headersTimeoutMs (5000) must not exceed requestTimeoutMs (1000)',
    );
  });
});

describe('request body depth', () => {
  it('allows 64 levels, refuses 65, and walks 100 000 levels without recursion', () => {
    const nest = (levels: number): unknown => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { v: value };
      return value;
    };
    expect(() => checkBodyDepth(nest(64))).not.toThrow();
    expect(() => checkBodyDepth(nest(65))).toThrow('request body nests more than 64 levels deep');
    expect(() => checkBodyDepth(nest(100_000))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => checkBodyDepth(undefined)).not.toThrow();
  });
});
