/**
 * Model lifecycle over HTTP: `POST /models` creates (an existing id is 409 and changes nothing),
 * `DELETE /models/:id` unloads and forgets (generations in flight end with ACTOR_STOPPED, sessions
 * naming the model then get ENTITY_NOT_FOUND), and `/health` does not call a failed model healthy.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { address, ModelMessage } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const server = await startTestServer();
  cleanups.push(server.dispose);
  return server;
}

/** Starts the model and waits for its load (an `info` answer comes once it has loaded). */
async function loaded(server: TestServer, model = 'tiny'): Promise<void> {
  await (await server.models.ref(model)).ask(ModelMessage.Info, null);
}

const send = (url: string, method: string, body?: unknown) =>
  fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

/** A file in the model directory that is not a model. */
async function junkModel(modelsDir: string, name: string): Promise<string> {
  const path = join(modelsDir, `${name}-${process.pid}.gguf`);
  await writeFile(path, 'this is not a model at all');
  cleanups.push(() => rm(path, { force: true }));
  return path;
}

describe('POST /models', () => {
  it('an existing id is 409 ENTITY_EXISTS: the stored entity and the running model are untouched', async () => {
    const server = await setup();
    const { url, models, router, tinyPath, modelsDir, status } = server;
    await loaded(server);
    expect((await status()).state).toBe('ready');
    const other = await junkModel(modelsDir, 'other');
    const again = await send(`${url}/models`, 'POST', { id: 'tiny', provider: 'local', path: other });
    expect(again.status).toBe(409);
    expect(await codeOf(again)).toBe('ENTITY_EXISTS');
    expect((await models.getModel('tiny')).path).toBe(tinyPath);
    expect(router.has('model/tiny')).toBe(true);
    expect((await status()).state).toBe('ready');
    // A new id is still created.
    const created = await send(`${url}/models`, 'POST', { id: 'tiny-copy', provider: 'local', path: tinyPath });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ address: '@(model/tiny-copy)' });
    // Two creations of one id at once: one wins, the other is ENTITY_EXISTS with the winner stored.
    const racing = await Promise.allSettled(
      [tinyPath, other].map((path) => models.createModel({ id: 'raced', provider: address('local'), path })),
    );
    expect(racing.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(racing[1]).toMatchObject({ reason: { code: 'ENTITY_EXISTS' } });
    expect((await models.getModel('raced')).path).toBe(tinyPath);
  });
});

describe('DELETE /models/:id', () => {
  it('aborts the generations in flight (ACTOR_STOPPED), stops the model and its tuner, forgets it; unknown ids are 404', async () => {
    const { url, models, router, sessions, store } = await setup();
    await sessions.create({ id: 'names-tiny', model: 'tiny' });
    await models.ensureTuner('tiny');
    expect(router.has('tuner/tiny')).toBe(true);

    let deleted: Response | undefined;
    const generation = models.invokeModel('tiny', {
      message: 'hello',
      params: { maxTokens: 2_000, temperature: 0 },
      stream: true,
      onToken: async () => {
        deleted ??= await send(`${url}/models/tiny`, 'DELETE');
      },
    });
    await expect(generation).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    expect(deleted?.status).toBe(204);
    expect(router.has('model/tiny')).toBe(false);
    expect(router.has('tuner/tiny')).toBe(false);
    expect(await store.get('models', 'tiny')).toBeUndefined();
    const listed = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(listed.data.map((m) => m.id)).not.toContain('tiny');

    // The session that names it fails on its next turn with the typed not-found error.
    const turn = await send(`${url}/sessions/names-tiny/messages`, 'POST', { message: 'hi', params: { maxTokens: 3 }, stream: false });
    expect(turn.status).toBe(404);
    expect(await codeOf(turn)).toBe('ENTITY_NOT_FOUND');
    expect(router.has('model/tiny')).toBe(false);
    // A chat completion naming it too.
    const chat = await send(`${url}/v1/chat/completions`, 'POST', { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    expect(chat.status).toBe(404);

    const unknown = await send(`${url}/models/tiny`, 'DELETE');
    expect(unknown.status).toBe(404);
    expect(await codeOf(unknown)).toBe('ENTITY_NOT_FOUND');
    expect((await send(`${url}/models/never-was`, 'DELETE')).status).toBe(404);
  });

  it('a deleted id can be created again, and serves', async () => {
    const { url, tinyPath } = await setup();
    expect((await send(`${url}/models/tiny`, 'DELETE')).status).toBe(204);
    expect((await send(`${url}/models`, 'POST', { id: 'tiny', provider: 'local', path: tinyPath, load: { slots: 1, threads: 1, contextSize: 256 } })).status).toBe(201);
    const chat = await send(`${url}/v1/chat/completions`, 'POST', { model: 'tiny', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    expect(chat.status).toBe(200);
  });
});

describe('/health', () => {
  it('a model whose load failed is `failed` and the status 503, until it is deleted', async () => {
    const server = await setup();
    const { url, modelsDir } = server;
    await loaded(server);
    const junk = await junkModel(modelsDir, 'junk');
    expect((await send(`${url}/models`, 'POST', { id: 'junk', provider: 'local', path: junk })).status).toBe(201);
    const chat = await send(`${url}/v1/chat/completions`, 'POST', { model: 'junk', messages: [{ role: 'user', content: 'x' }] });
    expect(chat.status).toBe(400);
    const failed = await fetch(`${url}/health`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({
      status: 'failed',
      models: expect.arrayContaining([
        { id: 'junk', state: 'failed' },
        { id: 'tiny', state: 'ready' },
      ]),
    });
    expect((await send(`${url}/models/junk`, 'DELETE')).status).toBe(204);
    const healthy = await fetch(`${url}/health`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ status: 'ok', models: [{ id: 'tiny', state: 'ready' }] });
  });
});
