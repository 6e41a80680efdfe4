import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { clampTokens, type TokenField } from './clampTokens.js';
import { anyText, toJsonText } from './jsonText.js';
import type { RawRequest } from './rawHttp.js';
import { chunked } from './rawHttp.js';
import { FUZZ_MODEL, type FuzzContext, type Mode, routeBodies } from './routeBodies.js';

export { FUZZ_MODEL, type FuzzContext } from './routeBodies.js';

/**
 * fast-check arbitraries for whole HTTP requests to every route of the server (src/server/*.ts),
 * shared by the fuzz test and the soak script. A request is a route's body (routeBodies.ts)
 * wrapped in an HTTP layer. Two in five requests are `clean` (valid body, plain HTTP: they reach
 * generation, sessions and the tuner, and load the server while the others probe it); the rest
 * are `fuzz`: wrong field types and, in the HTTP layer, odd methods, targets (percent-encodings,
 * long or malformed ids, query strings), versions, Host, content types, framing (length,
 * chunked, both), body encodings (invalid UTF-8, UTF-16, gzip, truncation) and headers.
 */

/** A generated request, with the route it was aimed at (for the figures). */
export interface FuzzRequest extends RawRequest {
  route: string;
  mode: Mode;
}

interface RouteSpec {
  route: string;
  method: string;
  /** The path, from the (already encoded) path parameters. */
  path: (ids: string[]) => string;
  /** Which id pool each path parameter comes from. */
  params: Array<'model' | 'session' | 'actor' | 'deletable'>;
  body?: fc.Arbitrary<unknown>;
  /** In clean mode, an arbitrary of the path ids and body together (the generic actor routes match the id to the message type). */
  paired?: fc.Arbitrary<{ id: string; body: unknown }>;
  tokens?: TokenField;
}

function routes(context: FuzzContext, mode: Mode): RouteSpec[] {
  const b = routeBodies(context, mode);
  const spec = (method: string, route: string, params: RouteSpec['params'], body?: fc.Arbitrary<unknown>, tokens?: TokenField, paired?: RouteSpec['paired']): RouteSpec => ({
    route: `${method} ${route}`,
    method,
    path: (ids) => ids.reduce((path, id) => path.replace(/:[a-z]+/, id), route),
    params,
    ...(body ? { body } : {}),
    ...(tokens ? { tokens } : {}),
    ...(paired && mode === 'clean' ? { paired } : {}),
  });
  return [
    spec('POST', '/v1/chat/completions', [], b.chat, 'openai'),
    spec('POST', '/v1/completions', [], b.completion, 'openai'),
    spec('POST', '/v1/embeddings', [], b.embeddings),
    spec('GET', '/v1/models', []),
    spec('POST', '/actors/:id/ask', ['actor'], b.actor, 'payload', b.actorWithId),
    spec('POST', '/actors/:id/stream', ['actor'], b.actor, 'payload', b.actorWithId),
    spec('GET', '/sessions', []),
    spec('POST', '/sessions', [], b.sessionCreate, 'params'),
    spec('GET', '/sessions/:id', ['session']),
    spec('DELETE', '/sessions/:id', ['deletable']),
    spec('POST', '/sessions/:id/messages', ['session'], b.sessionMessage, 'params'),
    spec('POST', '/sessions/:id/cancel', ['actor']),
    spec('POST', '/models', [], b.publish),
    spec('GET', '/models/:id/adapters', ['model']),
    spec('POST', '/models/:id/adapters', ['model'], b.adapter),
    spec('PATCH', '/models/:id/adapters', ['model'], b.adapter),
    spec('DELETE', '/models/:id/adapters', ['model'], b.adapter),
    spec('POST', '/models/:id/adapters/validate', ['model'], b.adapter),
    spec('POST', '/models/:id/evaluate', ['model'], b.evaluate),
    spec('GET', '/health', []),
    spec('GET', '/metrics', []),
    spec('GET', '/', []),
  ];
}

/** UTF-8 bytes as a latin1 string: what goes on the wire for a raw (unescaped) path. */
const wire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** Percent-encoding of the UTF-8 bytes (encodeURIComponent throws on a lone surrogate; Buffer makes it U+FFFD). */
const percent = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

function idPool(kind: RouteSpec['params'][number], context: FuzzContext, mode: Mode): fc.Arbitrary<string> {
  // Deletes aim at sessions the fuzz created (short ids, so they collide), never at the ones the run relies on.
  const deletable = fc.stringMatching(/^fz-s-[a-z0-9]{1,2}$/);
  if (kind === 'deletable') return mode === 'clean' ? deletable : fc.oneof({ weight: 3, arbitrary: deletable }, { weight: 1, arbitrary: idPool('model', context, mode) });
  if (mode === 'clean') return kind === 'model' ? fc.constantFrom('tiny', 'tiny', 'tiny', FUZZ_MODEL) : fc.constantFrom(...context.sessionIds);
  const known =
    kind === 'model' ? ['tiny', 'tiny', 'tiny', FUZZ_MODEL, 'nope'] : kind === 'session' ? [...context.sessionIds, 'nope', 'tiny'] : ['model/tiny', 'tuner/tiny', ...context.sessionIds.map((id) => `session/${id}`), 'nope', 'local'];
  const id = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: anyText.filter((s) => s.length < 3_000 && !s.startsWith('fz-')) });
  return fc.oneof(
    { weight: 8, arbitrary: id.map(percent) },
    { weight: 1, arbitrary: id.map(wire) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%zz', '%E0%A4%A', '%', '%00', '%2e%2e', '..', '.', '%2F', 'tiny%2Fx', '%C0%AE', '%ff', '%u0041', 'x'.repeat(2_100), 'a'.repeat(300),
        '%F0%9F%98%80', '%ED%A0%80', '@(tiny)', '%40(tiny)', 'tiny%00', 'TINY', 'tiny;x=1', 'tiny%20', '%7B%7D',
      ),
    },
  );
}

const queries = fc.constantFrom('', '', '', '', '?x=1', '?path=a&path=b', '?__proto__[x]=1', '?a=%zz', `?${'q=1&'.repeat(800)}`, '#frag', '?stream=true', '?path=');
const oddMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'QUERY', 'FOO', 'get', 'CONNECT'];
const versions = fc.oneof({ weight: 30, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/9.9') });
const contentTypes = [
  'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json;;;',
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream',
  'application/merge-patch+json', 'application/vnd.api+json', '*/*', '', 'json', 'application/json, text/plain', 'text/event-stream',
];

/** Headers a client might send, odd ones included (control bytes, huge values, bad names). */
function oddHeader(context: FuzzContext): fc.Arbitrary<Array<[string, string]>> {
  return fc.oneof(
    fc.constantFrom<Array<[string, string]>>(
      [['accept', 'text/event-stream']], [['accept-encoding', 'gzip, br']], [['content-encoding', 'gzip']], [['content-encoding', 'x-unknown']],
      [['expect', '100-continue']], [['expect', 'nonsense']], [['x-forwarded-for', '1.2.3.4']], [['origin', 'http://evil.example']],
      [['cookie', `a=${'b'.repeat(4_000)}`]], [['x-long', 'v'.repeat(9_000)]], [['x-longer', 'v'.repeat(17_000)]], [['x-latin1', '\u00e9\u00ff']],
      [['x-ctl', 'a\u0001b']], [['bad name', 'x']], [['range', 'bytes=0-1']], [['if-none-match', '*']], [['upgrade', 'websocket']],
      [['authorization', 'Bearer x']], [['authorization', '']], [['x-session-id', '']], [['x-session-id', 'nope']], [['x-session-id', 's1']],
      Array.from({ length: 150 }, (_, i): [string, string] => [`x-h${i}`, `${i}`]),
    ),
    anyText.map((s): Array<[string, string]> => [['x-session-id', wire(s.slice(0, 200)).replace(/[\r\n]/g, '')]]),
    fc.constant<Array<[string, string]>>([['host', `127.0.0.1:${context.port}`]]), // a second Host header
  );
}

const host = (port: number) =>
  fc.oneof({ weight: 30, arbitrary: fc.constant<string | undefined>(`127.0.0.1:${port}`) }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>('localhost', `[::1]:${port}`, 'evil.example', '', undefined, 'a b', `127.0.0.1:${port}:1`) });

/** How the body text becomes bytes (mostly plain UTF-8). */
const encodings = fc.oneof(
  { weight: 24, arbitrary: fc.constant('utf8') },
  { weight: 1, arbitrary: fc.constantFrom('bad-utf8', 'utf16le', 'latin1', 'bom', 'truncated', 'trailing', 'gzip', 'replaced') },
);
const replacements = ['', 'null', '[]', '"str"', '42', 'true', '{', '{"a":1,}', 'NaN', '{"a":NaN}', "{'a':1}", '\u0000', 'a=1&b=2', '{}{}'];

function encodeBody(text: string, encoding: string, pick: number): Buffer {
  switch (encoding) {
    case 'bad-utf8': {
      const at = Math.max(0, text.indexOf('"', pick % Math.max(1, text.length)) + 1);
      const bytes = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]][pick % 5] as number[];
      return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
    }
    case 'utf16le': return Buffer.from(text, 'utf16le');
    case 'latin1': return Buffer.from(text, 'latin1');
    case 'bom': return Buffer.from(`\ufeff${text}`);
    case 'truncated': return Buffer.from(text.slice(0, pick % Math.max(1, text.length)));
    case 'trailing': return Buffer.from(`${text}${['garbage', '\n{}', ' ', '\u0000'][pick % 4]}`);
    case 'gzip': return gzipSync(text);
    case 'replaced': return Buffer.from(replacements[pick % replacements.length] as string);
    default: return Buffer.from(text);
  }
}

/** The HTTP layer of a request: everything but the route, the ids and the body. */
function httpLayer(spec: RouteSpec, context: FuzzContext, mode: Mode) {
  if (mode === 'clean') {
    return fc.record({
      method: fc.constant(spec.method), query: fc.constant(''), targetShape: fc.constant('plain'), version: fc.constant('HTTP/1.1'),
      host: fc.constant<string | undefined>(`127.0.0.1:${context.port}`), contentType: fc.constant<string | undefined>('application/json'),
      framing: fc.oneof({ weight: 6, arbitrary: fc.constant('length') }, { weight: 1, arbitrary: fc.constant('chunked') }), encoding: fc.constant('utf8'),
      pick: fc.nat(), extra: fc.constant<Array<Array<[string, string]>>>([]), withExtra: fc.constant(1),
    });
  }
  return fc.record({
    method: fc.oneof({ weight: 14, arbitrary: fc.constant(spec.method) }, { weight: 1, arbitrary: fc.constantFrom(...oddMethods) }),
    query: queries,
    targetShape: fc.oneof({ weight: 20, arbitrary: fc.constant('plain') }, { weight: 1, arbitrary: fc.constantFrom('slash', 'double', 'absolute', 'upper', 'extra', 'star', 'dotdot', 'huge') }),
    version: versions,
    host: host(context.port),
    contentType: fc.oneof({ weight: 14, arbitrary: fc.constant<string | undefined>('application/json') }, { weight: 2, arbitrary: fc.constantFrom<string | undefined>(...contentTypes) }, { weight: 1, arbitrary: fc.constant(undefined) }),
    framing: fc.oneof({ weight: 12, arbitrary: fc.constant('length') }, { weight: 2, arbitrary: fc.constant('chunked') }, { weight: 1, arbitrary: fc.constantFrom('both', 'duplicate-length', 'keep-alive') }),
    encoding: encodings,
    pick: fc.nat(),
    extra: fc.array(oddHeader(context), { maxLength: 2 }),
    withExtra: fc.nat({ max: 5 }),
  });
}

/** The path ids and body of a request to `spec`. */
function idsAndBody(spec: RouteSpec, context: FuzzContext, mode: Mode): fc.Arbitrary<{ ids: string[]; body: unknown }> {
  if (spec.paired) return spec.paired.map(({ id, body }) => ({ ids: [id], body }));
  const noBody = mode === 'clean' ? fc.constant(undefined) : fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
  const body = spec.body ? (mode === 'clean' ? spec.body : fc.oneof({ weight: 9, arbitrary: spec.body }, { weight: 1, arbitrary: fc.constant(undefined) })) : noBody;
  return fc.record({ ids: fc.tuple(...spec.params.map((kind) => idPool(kind, context, mode))), body });
}

/** One request to one route of the given mode. */
export function routeRequest(context: FuzzContext, mode: Mode): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes(context, mode)).chain((spec) =>
    fc.tuple(idsAndBody(spec, context, mode), httpLayer(spec, context, mode)).map(([parts, layer]) => ({ ...assemble(spec, { ...parts, ...layer }, context.port), mode })),
  );
}

/** One request to one route: two in five clean, the rest fuzzed. */
export function fuzzRequest(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 2, arbitrary: routeRequest(context, 'clean') }, { weight: 3, arbitrary: routeRequest(context, 'fuzz') });
}

type Drawn = {
  ids: string[]; body: unknown; method: string; query: string; targetShape: string; version: string; host: string | undefined;
  contentType: string | undefined; framing: string; encoding: string; pick: number; extra: Array<Array<[string, string]>>; withExtra: number;
};

function target(spec: RouteSpec, r: Drawn, port: number): string {
  const path = spec.path(r.ids);
  switch (r.targetShape) {
    case 'slash': return `${path}/${r.query}`;
    case 'double': return `/${path}${r.query}`;
    case 'absolute': return `http://127.0.0.1:${port}${path}${r.query}`;
    case 'upper': return `${path.toUpperCase()}${r.query}`;
    case 'extra': return `${path}/extra/segments${r.query}`;
    case 'star': return '*';
    case 'dotdot': return `/v1/..${path}/../${path}${r.query}`;
    case 'huge': return `${path}?${'a'.repeat(20_000)}`;
    default: return `${path}${r.query}`;
  }
}

function assemble(spec: RouteSpec, r: Drawn, port: number): Omit<FuzzRequest, 'mode'> {
  const value = r.body === undefined ? undefined : clampTokens(r.body, spec.tokens ?? 'none');
  const body = value === undefined ? undefined : encodeBody(toJsonText(value), r.encoding, r.pick);
  const headers: Array<[string, string]> = [];
  if (r.host !== undefined) headers.push(['host', r.host]);
  headers.push(['connection', r.framing === 'keep-alive' ? 'keep-alive' : 'close']);
  if (body !== undefined && r.contentType !== undefined) headers.push(['content-type', r.encoding === 'utf16le' ? 'application/json; charset=utf-16le' : r.contentType]);
  if (r.encoding === 'gzip') headers.push(['content-encoding', 'gzip']);
  let payload = body;
  if (body !== undefined) {
    if (r.framing === 'chunked' || r.framing === 'both') {
      headers.push(['transfer-encoding', 'chunked']);
      payload = chunked(body, 1 + (r.pick % 64));
    }
    if (r.framing !== 'chunked') headers.push(['content-length', String(body.length)]);
    if (r.framing === 'duplicate-length') headers.push(['content-length', String(body.length)]);
  }
  if (r.withExtra === 0) for (const extra of r.extra) headers.push(...extra);
  return {
    route: spec.route,
    method: r.method,
    target: target(spec, r, port),
    version: r.version,
    headers,
    ...(payload ? { body: payload } : {}),
  };
}

/** A small batch of requests sent together (the server sees them concurrently). */
export function fuzzBatch(context: FuzzContext): fc.Arbitrary<FuzzRequest[]> {
  return fc.array(fuzzRequest(context), { minLength: 1, maxLength: 3 });
}
