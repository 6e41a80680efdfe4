import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ModelManager } from '../entities/ModelManager.js';
import type { SessionManager } from '../entities/SessionManager.js';
import { MemoryStore } from '../entities/store/MemoryStore.js';
import type { Store } from '../entities/store/Store.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { errorHandler } from './errorHandler.js';
import { errorBody, HttpError, sendError } from './httpErrors.js';
import { actorRoutes } from './actorRoutes.js';
import { adapterRoutes } from './adapterRoutes.js';
import { anthropicRoutes } from './anthropicRoutes.js';
import { defaultAllowedHosts, hostCheck, LOOPBACK_HOSTS } from './allowedHosts.js';
import { apiKeyHook, OPEN_PATHS } from './apiKeyCheck.js';
import { checkBodyDepth } from './bodyDepth.js';
import { corsHook, DEFAULT_CORS_ORIGINS } from './cors.js';
import { trackClients } from './clientSignal.js';
import { clientErrorHandler, type HttpLimits, httpServerFactory, resolveHttpLimits } from './httpLimits.js';
import { healthRoutes } from './healthRoutes.js';
import { modelRoutes } from './modelRoutes.js';
import { ollamaRoutes } from './ollamaRoutes.js';
import { OpenApiDocument, packageVersion } from './openapi.js';
import { openaiRoutes } from './openaiRoutes.js';
import { AJV_OPTIONS, type RouteSchema, schemaErrorFormatter } from './schemas/validation.js';
import type { ServerContext } from './ServerContext.js';
import { ServerMetrics } from './ServerMetrics.js';
import { sessionRoutes } from './sessionRoutes.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  router: MessageRouter;
  models: ModelManager;
  sessions: SessionManager;
  /**
   * Where the server keeps its own records: the Responses API's stored responses (`responses`
   * collection), so they outlive a restart when this is the runtime's `FileStore`. Defaults to a
   * `MemoryStore` of the server's own (stored responses are lost when it closes).
   */
  store?: Store;
  /** Interface to bind. Defaults to `127.0.0.1`; anything else requires `apiKey`. */
  host?: string;
  /** Port; `0` picks a free one. Defaults to `8080`. */
  port?: number;
  /**
   * Bearer token every request except `/` and `/health` must carry, compared in constant time.
   * Defaults to none (loopback only).
   */
  apiKey?: string;
  /**
   * More `Host` header names the server answers to (any port), or `'*'` for any. The server always
   * answers to the loopback names (`localhost`, `127.0.0.1`, `::1`), to `host` when it is a specific
   * address, and to this machine's host name and addresses when `host` is a wildcard; any other
   * `Host` gets `403 HOST_NOT_ALLOWED`, which stops DNS-rebinding pages from driving a keyless
   * loopback server from a browser. Defaults to none.
   */
  allowedHosts?: readonly string[] | '*';
  /**
   * Origins whose pages may call the server from a browser (CORS): exact origins
   * (`https://app.example`) or `scheme://host:*` for any port, `'*'` for any origin, or `false` to
   * send no CORS headers at all (and answer preflights 404, as a server without CORS does). An
   * allowed origin gets `Access-Control-Allow-Origin: <origin>` and its `OPTIONS` preflight 204;
   * any other origin gets no CORS headers, so the browser keeps the response from the page, and its
   * preflight `403 CORS_ORIGIN_NOT_ALLOWED`. A list replaces the default. Defaults to the loopback
   * origins on any port (`http://localhost:*`, `http://127.0.0.1:*`, `http://[::1]:*` and their
   * `https:`): pages of this machine (a dev server) may call it, a web page from anywhere else may
   * not, since a keyless loopback server would otherwise answer every site the user visits. (The
   * `Host` check of `allowedHosts` stops DNS rebinding; CORS decides which pages read responses.)
   */
  cors?: readonly string[] | '*' | false;
  /** Timeouts and size limits for slow or oversized requests. Defaults to {@link HttpLimits}' defaults. */
  limits?: HttpLimits;
  /** Largest request body in bytes. Defaults to `1_048_576` (1 MiB). */
  bodyLimit?: number;
  /** Directories that model files published over HTTP must be inside. Defaults to `['models']`. */
  modelDirs?: string[];
  /** Directories that LoRA adapter files named over HTTP must be inside. Defaults to `modelDirs`. */
  adapterDirs?: string[];
  /** Defaults to the router's logger. */
  logger?: Logger;
}

/** A created server. */
export interface LlamaActorsServer extends AsyncDisposable {
  readonly app: FastifyInstance;
  /** Starts listening; resolves with the base URL (`http://127.0.0.1:8080`). */
  listen(): Promise<string>;
  /** Stops accepting connections and closes open ones. Idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set<string>(LOOPBACK_HOSTS);
/**
 * The chat page's static files, beside this module: `src/server/public/` under tsx, `dist/server/public/`
 * once built (`npm run build` copies them: scripts/copy-public.mjs). Read on each request.
 */
const PUBLIC_FILES: ReadonlyArray<readonly [route: string, file: string, type: string, summary: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8', 'The chat page'],
  ['/favicon.svg', 'favicon.svg', 'image/svg+xml', "The chat page's icon"],
  // Browsers and tools ask for /favicon.ico whatever the page links; an SVG body is fine for them.
  ['/favicon.ico', 'favicon.svg', 'image/svg+xml', "The chat page's icon (SVG)"],
];
const publicFile = (file: string) => fileURLToPath(new URL(`./public/${file}`, import.meta.url));

/**
 * An HTTP server in front of the actors: OpenAI-compatible endpoints (`/v1/chat/completions`,
 * `/v1/completions`, `/v1/embeddings`, `/v1/models`) so the official `openai` client works unchanged,
 * native endpoints for actors and sessions (SSE of `TokenStreamEvent`s), `/health`, `/metrics`
 * (Prometheus) and a chat page at `/`. Built on fastify: schema-free routes here, but its body
 * limit, error handling and keep-alive handling are what a server facing real clients needs.
 *
 * @example
 * ```ts
 * const server = createServer({ router, models, sessions, port: 8080 });
 * console.log(`listening on ${await server.listen()}`);
 * ```
 */
export function createServer(options: ServerOptions): LlamaActorsServer {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!LOOPBACK.has(host) && !options.apiKey) {
    throw new InvalidArgumentError(`binding ${host} (not loopback) requires an apiKey`);
  }
  const logger = options.logger ?? options.router.logger;
  const limits = resolveHttpLimits(options.limits);
  const app: FastifyInstance = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 1_048_576,
    serverFactory: httpServerFactory(limits),
    clientErrorHandler,
    // Ids are checked by the routes (INVALID_ADDRESS names the limit); the router's own cut-off
    // would answer long ones with fastify's body, not ours.
    routerOptions: { maxParamLength: 2_048 },
    // Each route declares its request schema (src/server/schemas/): ajv checks it, never rewriting
    // the request, and a mismatch is a typed 400 naming the field and the value.
    ajv: AJV_OPTIONS,
    schemaErrorFormatter,
    frameworkErrors: (error, _request, reply) =>
      sendError(reply, new HttpError('MALFORMED_REQUEST', error.code === 'FST_ERR_BAD_URL' ? 'malformed URL (bad percent-encoding)' : `malformed request: ${error.message}`)),
  });
  const context: ServerContext = {
    router: options.router,
    models: options.models,
    sessions: options.sessions,
    store: options.store ?? new MemoryStore(),
    metrics: new ServerMetrics(options.router, options.models),
    logger,
    modelDirs: (options.modelDirs ?? ['models']).map((dir) => resolve(dir)),
    adapterDirs: (options.adapterDirs ?? options.modelDirs ?? ['models']).map((dir) => resolve(dir)),
    writeTimeoutMs: limits.writeTimeoutMs,
  };

  trackClients(app);
  app.addHook('preValidation', async (request) => checkBodyDepth(request.body));
  const extraHosts = options.allowedHosts ?? [];
  app.addHook('onRequest', hostCheck(extraHosts === '*' ? '*' : [...defaultAllowedHosts(host), ...extraHosts]));
  // Before the key check: a preflight carries no Authorization header.
  const cors = options.cors ?? DEFAULT_CORS_ORIGINS;
  if (cors !== false) app.addHook('onRequest', corsHook(cors));
  if (options.apiKey) app.addHook('onRequest', apiKeyHook(options.apiKey));
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.request(request.method, request.routeOptions.url ?? 'unknown', reply.statusCode);
  });

  app.setErrorHandler(errorHandler(options.bodyLimit ?? 1_048_576, logger));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(new HttpError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))),
  );

  // Before any route: the document lists every route registered after it, from its declared schema.
  const openapi = new OpenApiDocument({ version: packageVersion(), apiKey: options.apiKey !== undefined, openPaths: OPEN_PATHS });
  app.addHook('onRoute', openapi.onRoute);
  app.get('/openapi.json', { schema: { summary: 'This OpenAPI 3.1 document, generated from the routes\' request schemas' } as RouteSchema }, async () => openapi.document());
  for (const [route, file, type, summary] of PUBLIC_FILES) {
    const path = publicFile(file);
    app.get(route, { schema: { summary } as RouteSchema }, async (_request, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(path)));
  }
  openaiRoutes(app, context);
  ollamaRoutes(app, context);
  anthropicRoutes(app, context);
  actorRoutes(app, context);
  sessionRoutes(app, context);
  modelRoutes(app, context);
  healthRoutes(app, context);
  adapterRoutes(app, context);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= app.close();
    return closing;
  };
  return {
    app,
    async listen() {
      return app.listen({ host, port });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
