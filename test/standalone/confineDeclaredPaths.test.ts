import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelProtocol } from '../../src/actors/ModelActor/modelProtocol.js';
import { ModelMessage } from '../../src/actors/ModelActor/types.js';
import { confineDeclaredPaths } from '../../src/server/confineDeclaredPaths.js';

/**
 * The path patterns a protocol declares (`adapters[].path`, `messages[].content[].path`) reach every
 * element they name and skip what is not there: a message whose content is a string, a text part,
 * a part without a path. The ModelActor's protocol declares its image parts' paths on every message
 * that formats a conversation.
 */

let root: string;
let allowed: string;
let outside: string;

beforeAll(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), 'confine-declared-')));
  allowed = join(root, 'allowed');
  outside = join(root, 'outside');
  await mkdir(allowed);
  await mkdir(outside);
  await writeFile(join(allowed, 'cat.png'), 'png');
  await writeFile(join(outside, 'secret.png'), 'png');
});
afterAll(() => rm(root, { recursive: true, force: true }));

const PATTERN = ['messages[].content[].path'];

describe('confineDeclaredPaths', () => {
  it('messages[].content[].path: string content and text parts pass untouched, an image path inside is resolved', async () => {
    const payload = {
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', path: join(allowed, '.', 'cat.png') }, { type: 'image', data: 'AAAA' }] },
      ],
    };
    expect(await confineDeclaredPaths([allowed], payload, PATTERN)).toEqual({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', path: join(allowed, 'cat.png') }, { type: 'image', data: 'AAAA' }] },
      ],
    });
    // Nothing to walk: no messages, messages not an array, content neither string nor array.
    for (const other of [{}, { messages: 'x' }, { messages: [{ content: 5 }, null, 'x'] }, null, 'text']) {
      expect(await confineDeclaredPaths([allowed], other, PATTERN)).toEqual(other);
    }
  });

  it('an image path outside the directories is PATH_NOT_ALLOWED (403), however it is spelled', async () => {
    for (const path of [join(outside, 'secret.png'), join(allowed, '..', 'outside', 'secret.png'), '/etc/passwd']) {
      const payload = { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', path }] }] };
      await expect(confineDeclaredPaths([allowed], payload, PATTERN), path).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', status: 403 });
    }
  });

  it("the ModelActor declares its image parts' paths on generate, tokenizeChat and countPromptTokens", async () => {
    const payload = { messages: [{ role: 'user', content: [{ type: 'image', path: join(outside, 'secret.png') }] }] };
    for (const type of [ModelMessage.Generate, ModelMessage.TokenizeChat, ModelMessage.CountPromptTokens]) {
      const paths = modelProtocol.messages[type].paths ?? [];
      expect(paths, type).toContain('messages[].content[].path');
      await expect(confineDeclaredPaths([allowed], payload, paths), type).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    }
    // The adapters' paths are still declared beside them.
    expect(modelProtocol.messages[ModelMessage.Generate].paths).toContain('adapters[].path');
  });
});
