import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { errorHandler } from '../../src/server/errorHandler.js';
import { errorBody, HttpError, HttpErrorCode, httpStatus, KIND_ANSWER } from '../../src/server/httpErrors.js';

type ErrorClass = new (...args: never[]) => Error;

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * Constructor arguments and the HTTP status promised (README "Serving over HTTP", the OpenAI
 * routes' tests) for every error class the package defines: those exported from src/index.ts and
 * every class of an error file (`errors.ts`, `*Errors.ts`) under src, exported or not. A class
 * without an entry fails the first test, so a new error class cannot ship without a status.
 */
const CASES: Record<string, { args: unknown[]; status: number }> = {
  // src/messaging/errors.ts
  ActorError: { args: ['SOME_CODE', 'x'], status: 500 },
  InvalidAddressError: { args: ['@(', 'unbalanced'], status: 400 },
  ActorNotFoundError: { args: ['nobody'], status: 404 },
  ActorAlreadyRegisteredError: { args: ['twice'], status: 409 },
  StreamNotSupportedError: { args: ['plain'], status: 400 },
  MailboxFullError: { args: ['busy', 8, 8], status: 503 },
  TimeoutError: { args: [1_000], status: 504 },
  AbortedError: { args: [], status: 499 },
  ActorStoppedError: { args: ['model', 'unregistered'], status: 503 },
  ActorFailedError: { args: ['model', new Error('boom')], status: 500 },
  ConsumerFailedError: { args: [new Error('boom')], status: 500 },
  StreamOverflowError: { args: [10_000, 10_000], status: 500 },
  InvalidArgumentError: { args: ['timeout must be positive'], status: 400 },
  DisposedError: { args: ['router'], status: 503 },
  UnsupportedMessageError: { args: ['model', 'dance'], status: 400 },
  // src/messaging/protocolErrors.ts
  ActorKindMismatchError: { args: ['chat-1', 'model', 'session'], status: 400 },
  // src/messaging/transport/ActorHostLostError.ts
  ActorHostLostError: { args: ['model/tiny', { message: 'its host process exited with signal SIGKILL', signal: 'SIGKILL' }], status: 503 },
  // src/actors/ModelActor/modelErrors.ts
  ModelFileNotFoundError: { args: ['/models/missing.gguf'], status: 404 },
  InvalidModelFileError: { args: ['/models/x.gguf', 'bad magic'], status: 400 },
  ModelLoadError: { args: ['llama.cpp failed'], status: 500 },
  ModelNotReadyError: { args: ['loading'], status: 503 },
  QueueFullError: { args: [64, 64, 4], status: 503 },
  EmptyPromptError: { args: [], status: 400 },
  PromptTooLongError: { args: [5_000, 4_096], status: 400 },
  InvalidParameterError: { args: ['temperature', 'must be at least 0'], status: 400 },
  EmbeddingsDisabledError: { args: [], status: 400 },
  UnsupportedSchemaError: { args: ['minimum', '/properties/age/minimum', 'not enforced'], status: 400 },
  ModalityNotSupportedError: { args: ['tiny', 'image', 'messages[0].content[1]'], status: 400 },
  // A remote provider's failures: the operator's key 502, the remote's own overload / outage 503, its refusals 4xx.
  ProviderAuthFailedError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 401, 'bad key'], status: 502 },
  ProviderKeyMissingError: { args: ['vllm', 'VLLM_KEY'], status: 502 },
  RemoteModelNotFoundError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 'no such model'], status: 404 },
  RateLimitedError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 3, 1_000, 'slow down'], status: 503 },
  ProviderUnavailableError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 500, 'boom'], status: 503 },
  ProviderTimeoutError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 1_000], status: 504 },
  ProviderRejectedError: { args: [{ baseURL: 'http://r/v1', model: 'm' }, 422, 'bad field'], status: 400 },
  NotSupportedByProviderError: { args: ['scoring', 'openai-compatible', 'no logprobs of given tokens'], status: 400 },
  // src/actors/ModelActor/adapterErrors.ts
  AdapterFileNotFoundError: { args: ['/a.gguf'], status: 404 },
  NotAnAdapterError: { args: ['/a.gguf', 'a whole model'], status: 400 },
  IncompatibleAdapterError: { args: ['/a.gguf', 'another architecture'], status: 400 },
  AdapterNotAppliedError: { args: ['/a.gguf', []], status: 404 },
  AdapterContextsFullError: { args: [4, 4], status: 503 },
  AdapterLoadError: { args: ['llama.cpp refused it'], status: 400 },
  // src/actors/ModelActor/native/nativeErrors.ts
  NativeDecodeError: { args: ['llama_decode returned -1'], status: 500 },
  NativeModelLoadError: { args: ['llama_model_load failed'], status: 400 },
  // src/actors/TunerActor/tunerErrors.ts
  InvalidTrainingDataError: { args: ['empty-dataset', 'no examples'], status: 400 },
  InvalidLoraRankError: { args: [0, 1, 256], status: 400 },
  InvalidLearningRateError: { args: [-1, 1], status: 400 },
  InvalidEpochsError: { args: [0, 100], status: 400 },
  InvalidBatchSizeError: { args: [0, 64], status: 400 },
  InvalidTrainingConfigError: { args: ['alpha', 'alpha must be positive'], status: 400 },
  NotSupportedByBackendError: { args: ['useQLoRA', 'QLoRA'], status: 501 },
  TrainingSessionNotFoundError: { args: [], status: 404 },
  TrainingInProgressError: { args: ['train-1', 'running'], status: 409 },
  TrainingStoppedError: { args: ['train-1'], status: 409 },
  // src/actors/TunerActor/training/trainingErrors.ts
  InvalidTrainingJobError: { args: ['contextSize', 'contextSize must be at least 8'], status: 400 },
  QuantizedBaseModelError: { args: ['/m.gguf', ['Q4_K'], 'blk.0.attn_q.weight'], status: 400 },
  NotEnoughTokensError: { args: ['train', 3, 64], status: 400 },
  TokenOutOfVocabularyError: { args: ['train', 0, 1, 99_999, 32_000], status: 400 },
  NoTrainableTensorsError: { args: ['/nothing/', 120], status: 400 },
  TrainerCrashedError: { args: [null, 'SIGABRT', ['GGML_ASSERT(x) failed']], status: 500 },
  TrainerFailedError: { args: ['TRAINER_FAILED', 'the trainer failed'], status: 500 },
  TrainerBusyError: { args: [1234], status: 409 },
  NativeLibraryNotFoundError: { args: ['libllama.so'], status: 500 },
  ModelLoadFailedError: { args: ['/m.gguf', 'out of memory'], status: 500 },
  LoraExtractionError: { args: ['the tensors differ in shape'], status: 500 },
  // src/entities/entityErrors.ts
  EntityNotFoundError: { args: ['models', 'nope'], status: 404 },
  EntityExistsError: { args: ['models', 'demo'], status: 409 },
  InvalidEntityError: { args: ['a model needs a path'], status: 400 },
  ProviderUnsupportedError: { args: ['openai', ['local-llama']], status: 400 },
  ContextOverflowError: { args: [5_000, 4_096, 'overflow policy is error'], status: 400 },
  PromptNotFoundError: { args: ['p-1'], status: 404 },
  SessionConflictError: { args: ['session-1', 3, 4], status: 409 },
  ModelLoadCrashedError: { args: ['demo', 0, 4321], status: 409 },
  DataDirLockedError: { args: ['/data', 4321, '/data/.lock'], status: 409 },
  // src/entities/store/storeErrors.ts
  InvalidStoreKeyError: { args: ['id', '..', 'dot-dot', 'no ..'], status: 400 },
  StoreCorruptError: { args: ['/data/x.json', new SyntaxError('bad json')], status: 500 },
  StoreDisposedError: { args: ['FileStore'], status: 500 },
  StoreWriteError: { args: ['/data/x.json', new Error('EACCES')], status: 500 },
  StoreIoError: { args: [{ operation: 'get', collection: 'sessions', id: 'a' }, { path: '/data/sessions/a.json', code: 'EISDIR', text: 'a directory' }], status: 500 },
  StoreConflictError: { args: ['sessions', 'chat-1', 3, 4], status: 409 },
  StoreUnavailableError: { args: [{ operation: 'get', collection: 'sessions', id: 'a' }, 'nats-server at 127.0.0.1:4222 gave no answer within 5000 ms'], status: 503 },
  // src/server/httpErrors.ts (every code of it is checked on its own below)
  HttpError: { args: [HttpErrorCode.RouteNotFound, 'no route GET /nope'], status: 404 },
  MessageNotExposedError: { args: ['model/demo', 'explode'], status: 403 },
  // src/server/cors.ts
  CorsOriginNotAllowedError: { args: ['https://evil.example'], status: 403 },
  // src/server/embeddingErrors.ts
  UnsupportedDimensionsError: { args: [256, 64], status: 400 },
  // src/messaging/transport/nats/
  NoRespondersError: { args: ['la.x.connect'], status: 503 },
  NatsConnectionClosedError: { args: ['la.x.connect', 'closed'], status: 503 },
  NatsConnectFailedError: { args: ['la.x.connect', 'bad answer'], status: 503 },
  // src/entities/cluster/
  NoReplicaError: { args: ['tiny', 5_000, ['gpu-1']], status: 503 },
  // src/actors/ModelHost/hostErrors.ts
  ModelHostCrashedError: { args: ['model/tiny', 4, 60_000, 'killed by SIGABRT'], status: 500 },
  ModelHostStartError: { args: ['model/tiny', 'no answer within 60000 ms'], status: 500 },
  // src/server/openaiParamErrors.ts
  UnsupportedParameterError: { args: ['logit_bias', 'no logit-bias sampler'], status: 400 },
};

/**
 * The classes whose errors are truly ours: the runtime, llama.cpp, the trainer or the store broke,
 * so the caller can do nothing about it and a 500 is the truth. The only ones allowed a 500.
 */
const INTERNAL = new Set([
  'ActorError', // a plain ActorError with no kind: whatever it is, it was not declared a caller's mistake
  'ActorFailedError',
  'ConsumerFailedError',
  'StreamOverflowError',
  'ModelLoadError',
  'NativeDecodeError',
  'ModelHostCrashedError', // llama.cpp killed the host on every start: the model file or llama.cpp is broken
  'ModelHostStartError',
  'TrainerCrashedError',
  'TrainerFailedError', // with TRAINER_FAILED; with another code it takes that code's kind (below)
  'NativeLibraryNotFoundError',
  'ModelLoadFailedError',
  'LoraExtractionError',
  'StoreCorruptError',
  'StoreDisposedError',
  'StoreWriteError',
  'StoreIoError',
]);

/** Every error file under src: `errors.ts` and `*Errors.ts`. */
function errorFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'public' ? [] : errorFiles(path);
    return /^(errors|\w+Errors)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Every class that extends Error among a module's exports, by name. */
function errorClasses(module: Record<string, unknown>): [string, ErrorClass][] {
  return Object.entries(module).filter(
    (entry): entry is [string, ErrorClass] =>
      typeof entry[1] === 'function' && (entry[1] === Error || (entry[1] as { prototype?: unknown }).prototype instanceof Error),
  );
}

async function allErrorClasses(): Promise<Map<string, ErrorClass>> {
  const found = new Map<string, ErrorClass>(errorClasses(api as Record<string, unknown>));
  for (const file of errorFiles(SRC)) {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const [name, cls] of errorClasses(module)) {
      const seen = found.get(name);
      if (seen !== undefined && seen !== cls) throw new Error(`two error classes are named ${name} (one in ${relative(SRC, file)})`);
      found.set(name, cls);
    }
  }
  return found;
}

function construct(name: string, cls: ErrorClass): api.ActorError {
  const error = new cls(...((CASES[name]?.args ?? []) as never[]));
  expect(error, name).toBeInstanceOf(api.ActorError);
  return error as api.ActorError;
}

describe('error kinds: every error class declares one, and the server answers by it', () => {
  it('every exported error class, and every class of an error file, has an entry here', async () => {
    const classes = await allErrorClasses();
    expect(classes.size).toBeGreaterThan(60);
    expect([...classes.keys()].filter((name) => !(name in CASES)), 'error classes with no case in errorKinds.test.ts').toEqual([]);
  });

  it('every published code (the *ErrorCode tables) is the code of some error class here', async () => {
    const codes = new Set<string>();
    for (const [name, cls] of await allErrorClasses()) codes.add(construct(name, cls).code);
    for (const code of Object.values(HttpErrorCode)) codes.add(code); // one HttpError per code, checked below
    const tables = Object.entries(api as Record<string, unknown>).filter(([name]) => /ErrorCode$/.test(name));
    expect(tables.length).toBeGreaterThanOrEqual(7);
    const published = tables.flatMap(([, table]) => Object.values(table as Record<string, string>));
    const codesOf = (module: Record<string, unknown>) => Object.entries(module).filter(([name]) => /ErrorCode$/.test(name)).flatMap(([, t]) => Object.values(t as Record<string, string>));
    for (const file of errorFiles(SRC)) published.push(...codesOf((await import(pathToFileURL(file).href)) as Record<string, unknown>));
    expect(published.filter((code) => !codes.has(code))).toEqual([]);
  });

  it('each has a code and a known kind; the status is the one promised; only the internal allow-list answers 500', async () => {
    const wrong: string[] = [];
    const fiveHundreds: string[] = [];
    for (const [name, cls] of await allErrorClasses()) {
      const error = construct(name, cls);
      if (typeof error.code !== 'string' || error.code === '') wrong.push(`${name}: no code`);
      if (!api.isErrorKind(error.kind)) wrong.push(`${name}: kind ${String(error.kind)}`);
      const status = httpStatus(error);
      if (status !== CASES[name]?.status) wrong.push(`${name} (${error.code}, ${error.kind}) → ${status}, promised ${CASES[name]?.status}`);
      if ((status === 500) !== (error.kind === api.ErrorKind.Internal)) wrong.push(`${name}: ${error.kind} → ${status}`);
      if (status === 500) fiveHundreds.push(name);
    }
    expect(wrong).toEqual([]);
    expect(fiveHundreds.sort()).toEqual([...INTERNAL].sort());
  });

  it('every kind but internal answers a non-500 status, and the body type agrees with it', () => {
    for (const kind of Object.values(api.ErrorKind)) {
      const error = new api.ActorError('SOME_CODE', 'x', { kind });
      const status = httpStatus(error);
      expect(status === 500, `${kind} → ${status}`).toBe(kind === api.ErrorKind.Internal);
      expect(status, kind).toBe(KIND_ANSWER[kind].status);
      const type = errorBody(error).error.type;
      const expected =
        status === 404 ? 'not_found_error' : status === 401 || status === 403 ? 'authentication_error' : status === 503 ? 'overloaded_error' : status < 500 && status !== 499 ? 'invalid_request_error' : 'server_error';
      expect(type, kind).toBe(expected);
    }
  });

  it('plain errors stay 500 internal and hide their message; an unknown kind is internal', () => {
    expect(httpStatus(new Error('/secret/path exploded'))).toBe(500);
    expect(httpStatus(new TypeError('x is undefined'))).toBe(500);
    expect(httpStatus('a string')).toBe(500);
    expect(errorBody(new TypeError('/secret'))).toEqual({ error: { message: 'internal error', type: 'server_error', code: 'INTERNAL_ERROR', param: null } });
    expect(httpStatus(new api.ActorError('SOME_CODE', 'x', { kind: 'nonsense' as api.ErrorKind }))).toBe(500);
  });

  it('the HTTP layer refusals keep their exact statuses', () => {
    const statuses = Object.fromEntries(Object.values(HttpErrorCode).map((code) => [code, httpStatus(new HttpError(code, 'x'))]));
    expect(statuses).toEqual({
      MALFORMED_REQUEST: 400,
      UNAUTHORIZED: 401,
      HOST_NOT_ALLOWED: 403,
      PATH_NOT_ALLOWED: 403,
      ROUTE_NOT_FOUND: 404,
      REQUEST_TIMEOUT: 408,
      BODY_TOO_LARGE: 413,
      URI_TOO_LONG: 414,
      UNSUPPORTED_MEDIA_TYPE: 415,
      EXPECTATION_FAILED: 417,
      HEADERS_TOO_LARGE: 431,
    });
    expect(errorBody(new HttpError(HttpErrorCode.Unauthorized, 'x')).error.type).toBe('authentication_error');
    expect(errorBody(new HttpError(HttpErrorCode.RequestTimeout, 'x')).error.type).toBe('invalid_request_error');
    expect(httpStatus(new HttpError('NOT_A_CODE' as HttpErrorCode, 'x'))).toBe(500);
  });

  it('an error the trainer process reports by code keeps the kind of the class that threw it', async () => {
    const classes = await allErrorClasses();
    const trainingCodes = new Set<string>(Object.values(api.TrainingErrorCode));
    const checked: string[] = [];
    for (const [name, cls] of classes) {
      const error = construct(name, cls);
      if (!trainingCodes.has(error.code) || name === 'TrainerFailedError') continue;
      expect(new api.TrainerFailedError(error.code, error.message).kind, name).toBe(error.kind);
      checked.push(name);
    }
    expect(checked.length).toBeGreaterThanOrEqual(9);
    expect(new api.TrainerFailedError('ABORTED', 'x').kind).toBe(api.ErrorKind.Cancelled);
    expect(new api.TrainerFailedError('', 'x').kind).toBe(api.ErrorKind.Internal);
    expect(new api.TrainerFailedError('SOMETHING_NEW', 'x').kind).toBe(api.ErrorKind.Internal);
    expect(new api.TrainerFailedError('SOMETHING_NEW', 'x', api.ErrorKind.Invalid).kind).toBe(api.ErrorKind.Invalid);
  });

  it('the kind survives JSON and rebuilds into an error that answers the same', () => {
    const error = new api.ModelFileNotFoundError('/models/missing.gguf');
    const wire = JSON.parse(JSON.stringify(error)) as { code: string; kind: unknown; name: string };
    expect(wire).toMatchObject({ code: 'MODEL_FILE_NOT_FOUND', kind: 'not_found', name: 'ModelFileNotFoundError' });
    expect(api.isErrorKind(wire.kind)).toBe(true);
    const rebuilt = new api.ActorError(wire.code, error.message, { kind: wire.kind as api.ErrorKind });
    expect(httpStatus(rebuilt)).toBe(404);
    expect(errorBody(rebuilt)).toEqual(errorBody(error));
    expect(new api.ActorError('X', 'y', { cause: 1 }).cause).toBe(1);
  });
});

describe('the drifted codes, through the real error handler', () => {
  /** A fastify app with the server's own error handler, one route per error. */
  async function answer(error: Error): Promise<{ status: number; retryAfter: unknown; body: ReturnType<typeof errorBody> }> {
    const app = Fastify();
    app.setErrorHandler(errorHandler(1_048_576, pino({ level: 'silent' })));
    app.get('/fail', async () => {
      throw error;
    });
    try {
      const response = await app.inject({ method: 'GET', url: '/fail' });
      return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.json() };
    } finally {
      await app.close();
    }
  }

  it.each([
    ['MODEL_FILE_NOT_FOUND', 404, 'not_found_error', new api.ModelFileNotFoundError('/models/missing.gguf')],
    ['TRAINING_IN_PROGRESS', 409, 'invalid_request_error', new api.TrainingInProgressError('train-1', 'running')],
    ['TRAINING_SESSION_NOT_FOUND', 404, 'not_found_error', new api.TrainingSessionNotFoundError()],
    ['PROVIDER_UNSUPPORTED', 400, 'invalid_request_error', new api.ProviderUnsupportedError('openai', ['local-llama'])],
    ['ACTOR_STOPPED', 503, 'overloaded_error', new api.ActorStoppedError('demo', 'unregistered')],
  ] as const)('%s answers %i %s', async (code, status, type, error) => {
    const got = await answer(error);
    expect(got.status).toBe(status);
    expect(got.body).toEqual({ error: { message: error.message, type, code, param: null } });
    expect(got.retryAfter).toBe(status === 503 ? '1' : undefined);
  });

  it('a TypeError is a 500 that does not echo its message', async () => {
    const got = await answer(new TypeError('/secret/path: x is undefined'));
    expect(got.status).toBe(500);
    expect(got.body.error).toMatchObject({ message: 'internal error', type: 'server_error', code: 'INTERNAL_ERROR' });
  });
});
