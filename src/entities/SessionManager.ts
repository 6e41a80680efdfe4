import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import { MODEL_DIRECTORY_ADDRESS } from '../actors/ModelDirectory/modelDirectoryProtocol.js';
import { SessionActor } from '../actors/SessionActor/SessionActor.js';
import { SessionConflictError } from '../actors/SessionActor/sessionErrors.js';
import type { CompletionEvent, SessionExport, SessionStore } from '../actors/SessionActor/types.js';
import type { GenerationParams } from '../actors/ModelActor/types.js';
import { type Address, address } from '../messaging/address.js';
import { type Clock, systemClock } from '../messaging/Clock.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import { EntityErrorCode, EntityExistsError, EntityNotFoundError, InvalidEntityError } from './entityErrors.js';
import { ActorKind, entityName, kindAddress } from './actorNames.js';
import type { ModelManager } from './ModelManager.js';
import type { Store } from './store/Store.js';
import { isDamagedValueError, StoreConflictError } from './store/storeErrors.js';
import { EntityCollection, type OverflowPolicy, type SessionEntity } from './types.js';

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  router: MessageRouter;
  store: Store;
  models: ModelManager;
  /** Defaults to the router's logger. */
  logger?: Logger;
  /** Defaults to the system clock. */
  clock?: Clock;
}

/** What {@link SessionManager.create} takes. */
export interface CreateSessionOptions {
  /** Defaults to `session-<nanoid>`. */
  id?: string;
  /** The model's address or id. */
  model: string | Address;
  systemPrompt?: string;
  params?: GenerationParams;
  /** Defaults to `shift`. */
  overflow?: OverflowPolicy;
  signal?: AbortSignal;
}

/** A line of {@link SessionManager.list}. */
export interface SessionSummary {
  id: string;
  address: Address;
  /** The model's address (`@(model/<id>)`, or `@(<id>)` for a session stored before addresses had a kind). */
  model: Address | string;
  turns: number;
  createdAt: number;
  updatedAt: number;
  /** Whether its actor is registered now. */
  active: boolean;
}

/** A stored session {@link SessionManager.listReport} left out of the list, and why. */
export interface SkippedSession {
  /** The id it is stored under (which its content, if readable, may contradict). */
  id: string;
  /**
   * `STORE_CORRUPT` (not JSON), `STORE_IO_ERROR` (unreadable: a directory, a permission, ...) or
   * `INVALID_ENTITY` (JSON, but not a session).
   */
  code: string;
  /** Names the session and what is wrong with it (and, for store errors, the path). */
  message: string;
}

/** What {@link SessionManager.listReport} answers. */
export interface SessionListReport {
  /** The sessions that could be read, most recently updated first. */
  sessions: SessionSummary[];
  /** The ones that could not, in id order. */
  skipped: SkippedSession[];
}

/**
 * Creates, lists, loads, forks, imports and deletes sessions. Each session is an entity in the
 * store and, while active, a {@link SessionActor} registered at `@(session/<id>)`.
 *
 * Several SessionManagers may share one store (front ends on one `NatsKvStore`): each turn starts
 * from the session as stored and is saved only if no one else saved it meanwhile, so turns sent
 * through either in sequence all land in order, and of two overlapping turns on one session the
 * later to finish fails with `SESSION_CONFLICT` (HTTP 409) and changes nothing. Creating a session
 * whose id another one just took fails with `ENTITY_EXISTS` rather than replacing it.
 *
 * @example
 * ```ts
 * const sessions = new SessionManager({ router, store, models });
 * const chat = router.ref(await sessions.create({ id: 'stream-session', model: 'stream-model' }), sessionProtocol);
 * const reply = await chat.ask(SessionMessage.Inference, { message: 'Hi!' }, { timeout: 60_000 });
 * ```
 */
export class SessionManager {
  private readonly router: MessageRouter;
  private readonly store: Store;
  private readonly models: ModelManager;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly completionListeners = new Set<(event: CompletionEvent) => void>();

  constructor(options: SessionManagerOptions) {
    this.router = options.router;
    this.store = options.store;
    this.models = options.models;
    this.logger = options.logger ?? options.router.logger;
    this.clock = options.clock ?? systemClock;
  }

  /** Creates a session (stored at once) and starts its actor. */
  async create(options: CreateSessionOptions): Promise<Address> {
    const id = entityName(ActorKind.Session, options.id ?? `session-${nanoid(12)}`);
    const signal = options.signal ? { signal: options.signal } : {};
    if (await this.store.get(EntityCollection.Sessions, id, signal)) throw new EntityExistsError(EntityCollection.Sessions, id);
    const model = await this.models.getModel(options.model, signal);
    const now = this.clock.now();
    const entity: SessionEntity = {
      id,
      model: kindAddress(ActorKind.Model, model.id),
      ...(options.systemPrompt === undefined ? {} : { systemPrompt: options.systemPrompt }),
      ...(options.params === undefined ? {} : { params: options.params }),
      ...(options.overflow === undefined ? {} : { overflow: options.overflow }),
      turns: [],
      contextStart: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.createEntity(entity, signal);
    return this.start(id);
  }

  /** Starts the actor of a stored session if it is not running (after a restart, say). */
  async load(session: string | Address, options: { signal?: AbortSignal } = {}): Promise<Address> {
    const id = entityName(ActorKind.Session, session);
    const self = kindAddress(ActorKind.Session, id);
    if (this.router.has(self)) return self;
    if (!(await this.store.get(EntityCollection.Sessions, id, options))) {
      throw new EntityNotFoundError(EntityCollection.Sessions, id);
    }
    return this.start(id);
  }

  /** The stored session (its last persisted turn included). */
  async get(session: string | Address, options: { signal?: AbortSignal } = {}): Promise<SessionEntity> {
    const id = entityName(ActorKind.Session, session);
    const entity = await this.store.get<SessionEntity>(EntityCollection.Sessions, id, options);
    if (!entity) throw new EntityNotFoundError(EntityCollection.Sessions, id);
    return entity;
  }

  /**
   * Every stored session that can be read, most recently updated first. A damaged one is left
   * out (and logged at warn) rather than failing the list; {@link listReport} says which.
   */
  async list(options: { signal?: AbortSignal } = {}): Promise<SessionSummary[]> {
    return (await this.listReport(options)).sessions;
  }

  /**
   * Every stored session, like {@link list}, plus the ones it left out: each stored session whose
   * value the store cannot read (`STORE_CORRUPT`, `STORE_IO_ERROR`) or that is not a valid session
   * (`INVALID_ENTITY`: a field missing or of the wrong type, or an `id` other than the one it is
   * stored under) is reported in `skipped` and logged at warn. A failure of the listing itself
   * (the collection unreadable, the store disposed, an abort) still rejects.
   */
  async listReport(options: { signal?: AbortSignal } = {}): Promise<SessionListReport> {
    const ids = await this.store.list(EntityCollection.Sessions, options);
    const read = await Promise.all(ids.map((id) => this.readForList(id, options)));
    const sessions: SessionSummary[] = [];
    const skipped: SkippedSession[] = [];
    for (const entry of read) {
      if (entry === undefined) continue;
      if ('skipped' in entry) skipped.push(entry.skipped);
      else sessions.push(entry.summary);
    }
    sessions.sort((a, b) => b.updatedAt - a.updatedAt);
    return { sessions, skipped };
  }

  /** Stops the session's actor (its turn in flight is cancelled) and deletes it from the store. */
  async delete(session: string | Address, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const id = entityName(ActorKind.Session, session);
    if ((await this.store.get(EntityCollection.Sessions, id, options)) === undefined) return false;
    await this.router.unregisterActor(kindAddress(ActorKind.Session, id));
    return this.store.delete(EntityCollection.Sessions, id, options);
  }

  /** A new session with a copy of `session`'s persisted history. */
  async fork(session: string | Address, options: { id?: string; signal?: AbortSignal } = {}): Promise<Address> {
    return this.createFrom(await this.get(session, options), options.id, options.signal);
  }

  /** The session as portable JSON. */
  async export(session: string | Address, options: { signal?: AbortSignal } = {}): Promise<SessionExport> {
    return { format: 'llama-actors.session', version: 1, session: await this.get(session, options) };
  }

  /**
   * Creates a session from an export (under its own id, or `options.id`). The document is checked:
   * a malformed one is refused with `INVALID_ENTITY`, naming what is wrong.
   */
  async import(document: unknown, options: { id?: string; signal?: AbortSignal } = {}): Promise<Address> {
    return this.createFrom(validateExport(document), options.id ?? (document as SessionExport).session.id, options.signal);
  }

  /** Observes every session's completion events. Returns a function that ends the subscription. */
  onCompletion(listener: (event: CompletionEvent) => void): () => void {
    this.completionListeners.add(listener);
    return () => this.completionListeners.delete(listener);
  }

  private async createFrom(source: SessionEntity, id: string | undefined, signal: AbortSignal | undefined): Promise<Address> {
    const newId = entityName(ActorKind.Session, id ?? `session-${nanoid(12)}`);
    const options = signal ? { signal } : {};
    if (await this.store.get(EntityCollection.Sessions, newId, options)) {
      throw new EntityExistsError(EntityCollection.Sessions, newId);
    }
    await this.models.getModel(source.model, options);
    const now = this.clock.now();
    await this.createEntity({ ...structuredClone(source), id: newId, createdAt: now, updatedAt: now }, options);
    return this.start(newId);
  }

  /** Stores a new session; one stored meanwhile under its id (by another front end) is ENTITY_EXISTS, never replaced. */
  private async createEntity(entity: SessionEntity, options: { signal?: AbortSignal }): Promise<void> {
    try {
      await this.store.update(EntityCollection.Sessions, entity.id, entity, 0, options);
    } catch (error) {
      if (error instanceof StoreConflictError) throw new EntityExistsError(EntityCollection.Sessions, entity.id);
      throw error;
    }
  }

  /** The SessionActor's port on the store: loads with the revision, saves only at it. */
  private sessionStore(): SessionStore {
    return {
      load: async (sessionId, options) => {
        const entry = await this.store.getEntry<SessionEntity>(EntityCollection.Sessions, sessionId, options);
        if (!entry) throw new EntityNotFoundError(EntityCollection.Sessions, sessionId);
        return { session: entry.value, revision: entry.revision };
      },
      save: async (entity, revision) => {
        try {
          return await this.store.update(EntityCollection.Sessions, entity.id, entity, revision);
        } catch (error) {
          if (!(error instanceof StoreConflictError)) throw error;
          this.logger.warn({ sessionId: entity.id, expected: revision, actual: error.actual }, 'session turn not saved: the session changed in the store meanwhile');
          throw new SessionConflictError(entity.id, revision, error.actual, { cause: error });
        }
      },
    };
  }

  /** One line of {@link listReport}: a summary, a skipped entry, or undefined if deleted meanwhile. */
  private async readForList(
    id: string,
    options: { signal?: AbortSignal },
  ): Promise<{ summary: SessionSummary } | { skipped: SkippedSession } | undefined> {
    let value: unknown;
    try {
      value = await this.store.get<unknown>(EntityCollection.Sessions, id, options);
    } catch (error) {
      if (!isDamagedValueError(error)) throw error;
      return { skipped: this.skip({ id, code: error.code, message: error.message }, error) };
    }
    if (value === undefined) return undefined;
    const problem = storedSessionProblem(value, id);
    if (problem !== undefined) {
      const message = `stored session @(${id}) is not a valid session: ${problem}`;
      return { skipped: this.skip({ id, code: EntityErrorCode.InvalidEntity, message }) };
    }
    const entity = value as SessionEntity;
    return {
      summary: {
        id,
        address: kindAddress(ActorKind.Session, id),
        model: entity.model,
        turns: entity.turns.length,
        createdAt: entity.createdAt,
        updatedAt: entity.updatedAt,
        active: this.router.has(kindAddress(ActorKind.Session, id)),
      },
    };
  }

  private skip(skipped: SkippedSession, error?: unknown): SkippedSession {
    this.logger.warn({ sessionId: skipped.id, code: skipped.code, err: error }, `session left out of the list: ${skipped.message}`);
    return skipped;
  }

  private start(id: string): Address {
    const actor = new SessionActor({
      sessionId: id,
      store: this.sessionStore(),
      models: MODEL_DIRECTORY_ADDRESS,
      clock: this.clock,
      fork: (source) => this.createFrom(source, undefined, undefined),
      onCompletion: (event) => {
        for (const listener of this.completionListeners) {
          try {
            listener(event);
          } catch (error) {
            this.logger.error({ err: error }, 'completion listener threw');
          }
        }
      },
    });
    return this.router.registerActor(kindAddress(ActorKind.Session, id), actor, SessionActor.actorOptions);
  }
}

/** Checks an imported document's shape; returns its session. */
function validateExport(document: unknown): SessionEntity {
  const doc = document as Partial<SessionExport> | null;
  if (typeof doc !== 'object' || doc === null || doc.format !== 'llama-actors.session' || doc.version !== 1) {
    throw new InvalidEntityError('not a llama-actors session export (expected format "llama-actors.session", version 1)');
  }
  const session: unknown = doc.session;
  if (typeof session !== 'object' || session === null) throw new InvalidEntityError('the export has no session');
  const problem = sessionProblem(session);
  if (problem !== undefined) throw new InvalidEntityError(problem);
  return session as SessionEntity;
}

/**
 * What is wrong with a stored session listed under `id`, or undefined. Beyond what an import
 * checks, it needs the timestamps (an import gets fresh ones) and the id it is stored under:
 * every other call finds a session by that id, so a session claiming another is unreachable.
 */
function storedSessionProblem(value: unknown, id: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `expected an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  }
  const problem = sessionProblem(value);
  if (problem !== undefined) return problem;
  const session = value as SessionEntity;
  if (session.id !== id) return `session.id is ${JSON.stringify(session.id)}, not the id it is stored under`;
  for (const field of ['createdAt', 'updatedAt'] as const) {
    if (typeof session[field] !== 'number' || !Number.isFinite(session[field])) {
      return `session.${field} must be a number, got ${shortJson(session[field])}`;
    }
  }
  return undefined;
}

/** The first thing wrong with a session's fields, or undefined; shared by import and listing. */
function sessionProblem(value: object): string | undefined {
  const session = value as Partial<SessionEntity>;
  if (typeof session.id !== 'string') return 'session.id must be a string';
  if (typeof session.model !== 'string') return 'session.model must be an address';
  if (!Array.isArray(session.turns)) return 'session.turns must be an array';
  for (const [index, turn] of session.turns.entries()) {
    if (
      typeof turn !== 'object' ||
      turn === null ||
      !['system', 'user', 'assistant', 'tool'].includes(turn.role) ||
      typeof turn.content !== 'string' ||
      typeof turn.at !== 'number'
    ) {
      return `session.turns[${index}] must be { role, content, at }, got ${shortJson(turn)}`;
    }
  }
  if (session.systemPrompt !== undefined && typeof session.systemPrompt !== 'string') {
    return 'session.systemPrompt must be a string';
  }
  const contextStart = session.contextStart ?? 0;
  if (!Number.isInteger(contextStart) || contextStart < 0 || contextStart > session.turns.length) {
    return `session.contextStart must be an integer in 0..${session.turns.length}`;
  }
  return undefined;
}

/** JSON of a value for a message, cut so that one long turn cannot flood a log line. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 200 ? `${json.slice(0, 200)}…` : json;
}
