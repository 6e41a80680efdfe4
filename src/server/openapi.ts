import { readFileSync } from 'node:fs';
import type { RouteOptions } from 'fastify';

type Schema = Record<string, unknown>;
const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One route as fastify registered it. */
interface RegisteredRoute {
  method: string;
  url: string;
  schema: Schema;
}

/** @internal What the document says about the server. */
export interface OpenApiInfo {
  version: string;
  /** Whether requests need the API key; then every route but `openPaths` says so. */
  apiKey: boolean;
  /** Paths served without the key. */
  openPaths: ReadonlySet<string>;
}

/** The API a path belongs to, as the document's tag. */
function tagOf(url: string): string {
  if (url.startsWith('/v1/messages')) return 'anthropic';
  if (url.startsWith('/v1/')) return 'openai';
  if (url.startsWith('/api/')) return 'ollama';
  return 'llama-actors';
}

/** `/models/:id/adapters` → `/models/{id}/adapters`, and the names of its path parameters. */
function openApiPath(url: string): { path: string; names: string[] } {
  const names: string[] = [];
  const path = url.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => {
    names.push(name);
    return `{${name}}`;
  });
  return { path, names };
}

function propertiesOf(schema: unknown): { properties: Schema; required: string[] } {
  if (!isSchema(schema)) return { properties: {}, required: [] };
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === 'string') : [];
  return { properties, required };
}

/** A body schema that also accepts null takes no body at all (fastify validates a missing body as null). */
function bodyRequired(body: unknown): boolean {
  return !(isSchema(body) && Array.isArray(body.anyOf) && body.anyOf.some((branch) => isSchema(branch) && branch.type === 'null'));
}

/** One operation of the document: summary, parameters, request body, responses. */
function operation(route: RegisteredRoute, names: readonly string[], info: OpenApiInfo, path: string): Schema {
  const { schema } = route;
  const params = propertiesOf(schema.params).properties;
  const query = propertiesOf(schema.querystring);
  const parameters = [
    ...names.map((name) => ({ name, in: 'path', required: true, schema: params[name] ?? { type: 'string' } })),
    ...Object.entries(query.properties).map(([name, value]) => ({ name, in: 'query', required: query.required.includes(name), schema: value })),
  ];
  const summary = typeof schema.summary === 'string' ? schema.summary : `${route.method} ${route.url}`;
  return {
    operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, next?: string) => (next ?? '').toUpperCase())}`,
    summary,
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    tags: [tagOf(route.url)],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(schema.body === undefined
      ? {}
      : { requestBody: { required: bodyRequired(schema.body), content: { 'application/json': { schema: schema.body } } } }),
    responses: {
      '200': { description: 'Success (some routes answer 201 or 204; streaming routes send SSE or NDJSON)' },
      default: { description: "An error, in the API's own error shape (a 400 names the field and the value)" },
    },
    ...(info.apiKey && info.openPaths.has(route.url) ? { security: [] } : {}),
  };
}

/**
 * @internal The OpenAPI 3.1 document of the routes a server registers: its {@link onRoute} hook
 * (added before the routes) records each route's method, path and declared schema, so the
 * document is generated from the same schemas fastify validates requests with, and a route added
 * later is in it without anyone writing it down twice. HEAD routes (fastify's automatic ones) are left out.
 */
export class OpenApiDocument {
  private readonly routes: RegisteredRoute[] = [];
  private built: Schema | undefined;

  constructor(private readonly info: OpenApiInfo) {}

  /** fastify's `onRoute` hook. */
  readonly onRoute = (route: RouteOptions): void => {
    const schema = isSchema(route.schema) ? route.schema : {};
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') this.routes.push({ method, url: route.url, schema });
    }
    this.built = undefined;
  };

  /** The document (built once, after the routes are registered). */
  document(): Schema {
    this.built ??= this.build();
    return this.built;
  }

  private build(): Schema {
    const paths: Record<string, Record<string, Schema>> = {};
    for (const route of this.routes) {
      const { path, names } = openApiPath(route.url);
      paths[path] ??= {};
      paths[path][route.method.toLowerCase()] = operation(route, names, this.info, path);
    }
    const security = this.info.apiKey
      ? {
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
          },
          security: [{ bearer: [] }, { apiKey: [] }],
        }
      : {};
    return {
      openapi: '3.1.0',
      info: {
        title: 'llama-actors',
        version: this.info.version,
        description: 'Local LLM inference: OpenAI, Anthropic and Ollama compatible routes, and the native actor, session and model routes.',
      },
      paths,
      ...security,
    };
  }
}

/** @internal This package's version (package.json, beside src/ and dist/). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
}
