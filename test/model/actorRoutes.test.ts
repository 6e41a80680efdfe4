/**
 * The generic `/actors/<kind>/<name>/ask|stream` routes are safe by construction:
 *
 * (a) every path field a protocol declares (`spec.paths` of every message type of every protocol),
 *     nested as declared, is refused with 403 `PATH_NOT_ALLOWED` when it names a file outside the
 *     allowed directories (`models/`), by the declared confinement itself (its refusal names the
 *     declared field; a probe protocol whose path fields have names no name-based guard knows shows
 *     it alone), and the writing ones (`startTraining`'s `options.outputPath` / `options.adapterPath`)
 *     create nothing and start nothing;
 * (b) a path-looking field the protocol does not declare, nested anywhere, is refused too (the
 *     name-based second guard);
 * (c) only types the protocol marks `exposed` are sent (403 `MESSAGE_NOT_EXPOSED` otherwise, and the
 *     actor never sees the message); an actor without a protocol gets nothing;
 * (d) both URL forms of an id with a kind work: `/actors/model/tiny/ask` and `/actors/model%2Ftiny/ask`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Actor,
  defineProtocol,
  type Message,
  modelDirectoryProtocol,
  modelProtocol,
  type Protocol,
  sessionProtocol,
  tunerProtocol,
} from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

let server: TestServer;
let outside: string;
let sessionName: string;
/** A link inside `models/` to the outside directory: a path through it is outside too. */
let link: string;

/** What the probe actor received: the HTTP routes must deliver nothing they refuse. */
const received: Message[] = [];

/** A probe protocol whose path fields have names the name-based guard does not know (`where`, `source`). */
interface ProbeProtocol {
  echo: { payload: { where?: string; jobs?: Array<{ source?: string }>; note?: unknown }; reply: unknown };
  secret: { payload: unknown; reply: unknown };
}
const probeProtocol = defineProtocol<ProbeProtocol>('probe', {
  echo: { exposed: true, paths: ['where', 'jobs[].source'] },
  secret: {},
});
class ProbeActor extends Actor {
  override readonly protocol = probeProtocol;
  override receive(message: Message): unknown {
    received.push(message);
    return message.payload;
  }
}
/** An actor without a protocol: takes every type in process, none over the generic routes. */
class BareActor extends Actor {
  override receive(message: Message): unknown {
    received.push(message);
    return 'bare';
  }
}

beforeAll(async () => {
  server = await startTestServer();
  outside = await mkdtemp(join(tmpdir(), 'llama-actors-outside-'));
  link = join(server.modelsDir, `outside-link-${process.pid}`);
  await symlink(outside, link);
  await server.models.ensureTuner('tiny');
  const session = await server.sessions.create({ model: 'tiny' });
  sessionName = session.replace(/^@\(session\/(.*)\)$/, '$1');
  server.router.registerActor('probe/one', new ProbeActor());
  server.router.registerActor('bare/one', new BareActor());
});

afterAll(async () => {
  await server?.dispose();
  if (link !== undefined) await rm(link, { force: true });
  if (outside !== undefined) await rm(outside, { recursive: true, force: true });
});

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
async function refusal(response: Response): Promise<{ status: number; code: string; message: string }> {
  const text = await response.text();
  const body = JSON.parse(text) as { error?: { code: string; message: string } };
  return { status: response.status, code: body.error?.code ?? `(no error: ${text.slice(0, 200)})`, message: body.error?.message ?? '' };
}

/** The URL base of the actor that owns each protocol's messages on the test server. */
const owner = (kind: string): string =>
  ({ model: '/actors/model/tiny', tuner: '/actors/tuner/tiny', session: `/actors/session/${sessionName}`, 'model-directory': '/actors/model-directory/default' })[
    kind
  ] ?? `/actors/${kind}/one`;

const conversations = ['actors', 'models', 'tokens', 'sessions', 'streams', 'adapters', 'routers', 'contexts'].map((topic) => ({
  messages: [
    { role: 'user', content: `What are ${topic}?` },
    { role: 'assistant', content: `The ${topic} are part of the actor model, and the model streams tokens to the session.` },
  ],
}));
/** An otherwise valid payload for each type with paths: what would run (and write) if a path got through. */
const BASE: Record<string, unknown> = {
  'model.generate': { prompt: 'hi', params: { maxTokens: 2 } },
  'model.score': { tokens: [1, 2, 3] },
  'model.applyAdapter': { scale: 1 },
  'model.setAdapterScale': { scale: 0.5 },
  'tuner.applyAdapter': { scale: 1 },
  'tuner.setAdapterScale': { scale: 0.5 },
  'tuner.evaluate': { examples: conversations.slice(0, 1) },
  'tuner.startTraining': { dataset: { conversations, validationSplit: 0 }, config: { epochs: 1, loraRank: 2 }, options: { contextSize: 256, threads: 1 } },
};

/** A copy of `payload` with `value` written at the dotted `path`, `[]` meaning an array of one element. */
function withPathAt(payload: unknown, path: string, value: string): unknown {
  const root = structuredClone(payload ?? {}) as Record<string, unknown>;
  let node = root;
  const segments = path.split('.');
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    const each = segment.endsWith('[]');
    const key = each ? segment.slice(0, -2) : segment;
    if (each) {
      const item: Record<string, unknown> = {};
      node[key] = last ? [value] : [item];
      node = item;
    } else if (last) {
      node[key] = value;
    } else {
      const next = (typeof node[key] === 'object' && node[key] !== null ? node[key] : {}) as Record<string, unknown>;
      node[key] = next;
      node = next;
    }
  });
  return root;
}

const PROTOCOLS: Protocol[] = [modelProtocol, sessionProtocol, tunerProtocol, modelDirectoryProtocol];
/** Every declared path of every protocol, with the routes its type is sent by. */
const declared = PROTOCOLS.flatMap((protocol) =>
  Object.entries(protocol.messages as Record<string, { paths?: readonly string[]; stream?: boolean; exposed?: boolean }>).flatMap(
    ([type, spec]) =>
      (spec.paths ?? []).map((path) => ({ kind: protocol.kind, type, path, routes: spec.stream ? ['ask', 'stream'] : ['ask'] })),
  ),
);

describe('generic /actors routes', () => {
  it('(a) refuses every declared path field outside the allowed directories: 403, by the declared confinement, nothing written', async () => {
    // Every protocol that declares paths is covered: model and tuner today.
    expect(new Set(declared.map((d) => d.kind))).toEqual(
      new Set(PROTOCOLS.filter((p) => Object.values(p.messages as Record<string, { paths?: readonly string[] }>).some((s) => (s.paths ?? []).length > 0)).map((p) => p.kind)),
    );
    expect(declared.length).toBeGreaterThanOrEqual(15); // 6 of the model, 9 of the tuner when this was written
    const targets: string[] = [];
    for (const { kind, type, path, routes } of declared) {
      // Straight outside, and outside through a link inside models/.
      for (const [how, target] of [
        ['outside', join(outside, `${kind}-${type}-${path.replace(/\W+/g, '_')}.gguf`)],
        ['through a link', join(link, `${kind}-${type}-linked.gguf`)],
      ] as const) {
        targets.push(target.replace(link, outside));
        const payload = withPathAt(BASE[`${kind}.${type}`], path, target);
        for (const route of routes) {
          const answer = await refusal(await post(`${owner(kind)}/${route}`, { type, payload }));
          const what = `${route} ${kind}.${type} with ${path} ${how}: ${JSON.stringify(payload).slice(0, 160)}`;
          expect({ status: answer.status, code: answer.code }, what).toEqual({ status: 403, code: 'PATH_NOT_ALLOWED' });
          // The declared confinement refused it: its refusal names the declared field (the
          // name-based guard would name only the last key, `path` for `adapters[].path`).
          expect(answer.message, what).toContain(`${path} path is outside`);
        }
      }
    }
    // Nothing was written, and the tuner never started a training session.
    for (const target of targets) expect(existsSync(target), target).toBe(false);
    expect(await readdir(outside)).toEqual([]);
    const status = await refusal(await post('/actors/tuner/tiny/ask', { type: 'getTrainingStatus', payload: null }));
    expect(status).toMatchObject({ status: 404, code: 'TRAINING_SESSION_NOT_FOUND' });
  });

  it('(a) a declared path field is confined whatever its name: the probe protocol\'s `where` and `jobs[].source`', async () => {
    received.length = 0;
    for (const payload of [{ where: join(outside, 'x.gguf') }, { jobs: [{ source: join(server.modelsDir, 'tiny.gguf') }, { source: join(link, 'y.gguf') }] }]) {
      const answer = await refusal(await post('/actors/probe/one/ask', { type: 'echo', payload }));
      expect({ status: answer.status, code: answer.code }, JSON.stringify(payload)).toEqual({ status: 403, code: 'PATH_NOT_ALLOWED' });
    }
    expect(received).toEqual([]);
    // Inside: delivered, with the confined (real) path in its place.
    const inside = await post('/actors/probe/one/ask', { type: 'echo', payload: { where: join(server.modelsDir, '.', 'tiny.gguf'), jobs: [{ source: server.tinyPath }] } });
    expect(inside.status).toBe(200);
    expect(await inside.json()).toEqual({ reply: { where: server.tinyPath, jobs: [{ source: server.tinyPath }] } });
    expect(received).toHaveLength(1);
  });

  it('(b) an undeclared path-looking field, nested anywhere, is refused too (the name guard)', async () => {
    received.length = 0;
    const away = join(outside, 'deep.gguf');
    const cases: Array<[string, string, unknown]> = [
      ['model', 'tokenize', { text: 'hi', extra: { deep: { outputPath: away } } }],
      ['model', 'generate', { prompt: 'hi', params: { maxTokens: 2 }, extra: [{ nested: { file: away } }] }],
      ['tuner', 'status', { extra: { deep: { outputPath: away } } }],
      ['tuner', 'startTraining', { ...(BASE['tuner.startTraining'] as object), extra: { deep: { outputDir: outside } } }],
      ['session', 'history', { extra: { deep: { adapter: away } } }],
      ['session', 'inference', { message: 'hi', params: { maxTokens: 2 }, extra: { files: [away] } }],
      ['probe', 'echo', { note: { deep: { outputPath: away } } }],
    ];
    for (const [kind, type, payload] of cases) {
      for (const route of kind === 'model' && type === 'generate' ? ['ask', 'stream'] : ['ask']) {
        const answer = await refusal(await post(`${owner(kind)}/${route}`, { type, payload }));
        expect({ status: answer.status, code: answer.code }, `${route} ${kind}.${type} ${JSON.stringify(payload)}`).toEqual({ status: 403, code: 'PATH_NOT_ALLOWED' });
      }
    }
    expect(received).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
  });

  it('(c) only exposed types are sent: a type not exposed, an undeclared type, an actor without a protocol are 403 MESSAGE_NOT_EXPOSED', async () => {
    received.length = 0;
    const cases: Array<[string, string, unknown]> = [
      // The model directory's ensureStarted is not exposed: HTTP cannot start models through it.
      ['/actors/model-directory/default', 'ensureStarted', { model: 'tiny' }],
      ['/actors/probe/one', 'secret', {}],
      ['/actors/model/tiny', 'no-such-type', {}],
      ['/actors/session/' + sessionName, 'onStart', {}],
      ['/actors/bare/one', 'anything', {}],
    ];
    for (const [base, type, payload] of cases) {
      for (const route of ['ask', 'stream']) {
        const answer = await refusal(await post(`${base}/${route}`, { type, payload }));
        expect({ status: answer.status, code: answer.code }, `${route} ${base} ${type}`).toEqual({ status: 403, code: 'MESSAGE_NOT_EXPOSED' });
      }
    }
    expect(received).toEqual([]);
    // The same actors, in process, take them: the refusal is the HTTP routes'.
    await expect(server.router.ask('probe/one', 'secret', 1)).resolves.toBe(1);
    await expect(server.router.ask('bare/one', 'anything', null)).resolves.toBe('bare');
  });

  it('(d) both URL forms of an id with a kind work, for ask, stream and refusals', async () => {
    const forms = ['/actors/model/tiny', '/actors/model%2Ftiny'];
    const replies = [];
    for (const base of forms) {
      const asked = await post(`${base}/ask`, { type: 'tokenize', payload: { text: 'the actor' } });
      expect(asked.status, base).toBe(200);
      replies.push(await asked.json());
      const streamed = await post(`${base}/stream`, { type: 'generate', payload: { prompt: 'the', params: { maxTokens: 3, temperature: 0 } } });
      expect(streamed.status, base).toBe(200);
      expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const text = await streamed.text();
      expect(text, base).toContain('event: token');
      expect(text, base).toContain('event: done');
      const refused = await refusal(await post(`${base}/ask`, { type: 'validateAdapter', payload: { path: join(outside, 'a.gguf') } }));
      expect({ status: refused.status, code: refused.code }, base).toEqual({ status: 403, code: 'PATH_NOT_ALLOWED' });
      const hidden = await refusal(await post(`${base}/ask`, { type: 'no-such-type', payload: {} }));
      expect({ status: hidden.status, code: hidden.code }, base).toEqual({ status: 403, code: 'MESSAGE_NOT_EXPOSED' });
    }
    expect(replies[1]).toEqual(replies[0]);
    expect((replies[0] as { reply: { tokens: number[] } }).reply.tokens.length).toBeGreaterThan(0);
    for (const base of [`/actors/session/${sessionName}`, `/actors/session%2F${sessionName}`, '/actors/tuner%2Ftiny']) {
      const type = base.includes('tuner') ? 'status' : 'history';
      const asked = await post(`${base}/ask`, { type, payload: null });
      expect(asked.status, base).toBe(200);
    }
  });
});
