import {
  AbortedError,
  ActorAlreadyRegisteredError,
  ActorError,
  ActorFailedError,
  ActorNotFoundError,
  ActorStoppedError,
  ConsumerFailedError,
  DisposedError,
  ErrorKind,
  InvalidAddressError,
  InvalidArgumentError,
  isErrorKind,
  MailboxFullError,
  StreamNotSupportedError,
  StreamOverflowError,
  TimeoutError,
  toActorError,
  UnsupportedMessageError,
} from '../errors.js';
import { ActorKindMismatchError } from '../protocolErrors.js';
import { ActorHostLostError } from './ActorHostLostError.js';

/**
 * An error as it crosses a transport: plain data from which {@link errorFromWire} rebuilds an
 * instance of the same class (when registered) with the same code, kind, message and fields.
 */
export interface WireError {
  /** The class name (`error.name`), e.g. `MailboxFullError`. */
  name: string;
  message: string;
  /** The stable code; absent only on a cause that was not an {@link ActorError}. */
  code?: string;
  /** The {@link ErrorKind}; absent only on such a cause. */
  kind?: string;
  /** The error's own plain-data fields (`actorId`, `waiting`, `limit`, ...). */
  fields?: Record<string, unknown>;
  /** The stack where it was thrown, on the other side. */
  stack?: string;
  cause?: WireError;
}

/** A class {@link errorFromWire} may rebuild: any subclass of {@link ActorError}. */
export type WireErrorClass = abstract new (...args: never[]) => ActorError;

const byName = new Map<string, WireErrorClass>();
const byCode = new Map<string, WireErrorClass>();
/** Fields every error has, carried on their own. */
const RESERVED: ReadonlySet<string> = new Set(['name', 'message', 'code', 'kind', 'stack', 'cause']);
/** Nested causes beyond this are cut: a cause chain is for reading, not a data structure. */
const MAX_CAUSE_DEPTH = 4;
const MAX_FIELD_DEPTH = 6;

/**
 * Registers error classes for rebuilding by their class name (what `error.name` holds: ActorError
 * sets it to the class's own name). A layer registers its classes once, at import or start-up, on
 * both sides of a transport; the kernel's are registered already.
 *
 * @example
 * ```ts
 * class QuotaError extends ActorError {
 *   override readonly kind = ErrorKind.Overloaded;
 *   constructor(readonly used: number, readonly limit: number) {
 *     super('QUOTA', `quota exceeded: ${used} requests, limit ${limit}`);
 *   }
 * }
 * registerWireErrors(QuotaError); // a QuotaError thrown behind a transport is a QuotaError here
 * ```
 */
export function registerWireErrors(...classes: WireErrorClass[]): void {
  for (const cls of classes) byName.set(cls.name, cls);
}

/**
 * Registers the class that errors of `code` are rebuilt as, whatever their name says: for a class
 * whose instances carry several codes, or a code that should come back as another class.
 *
 * @example
 * ```ts
 * registerWireError('QUOTA', QuotaError);
 * ```
 */
export function registerWireError(code: string, cls: WireErrorClass): void {
  byCode.set(code, cls);
}

registerWireErrors(
  ActorError,
  InvalidAddressError,
  ActorNotFoundError,
  ActorAlreadyRegisteredError,
  StreamNotSupportedError,
  MailboxFullError,
  TimeoutError,
  AbortedError,
  ActorStoppedError,
  ActorFailedError,
  ConsumerFailedError,
  StreamOverflowError,
  InvalidArgumentError,
  DisposedError,
  UnsupportedMessageError,
  ActorKindMismatchError,
  ActorHostLostError,
);

/**
 * The wire form of anything thrown. An {@link ActorError} keeps its name, code, kind, message,
 * plain-data fields, stack and cause chain; anything else is first wrapped as the router would wrap
 * it (`ACTOR_FAILED` naming `actorId`, the original as its cause).
 *
 * @example
 * ```ts
 * const wire = errorToWire(new MailboxFullError('model/tiny', 8, 8));
 * const back = errorFromWire(structuredClone(wire)); // a MailboxFullError, code MAILBOX_FULL, waiting 8
 * ```
 */
export function errorToWire(error: unknown, actorId = 'remote'): WireError {
  return toWire(toActorError(actorId, error), 0);
}

function toWire(error: Error, depth: number): WireError {
  const wire: WireError = { name: error.name, message: error.message };
  if (error instanceof ActorError) {
    wire.code = error.code;
    wire.kind = error.kind;
  }
  const fields = plainFields(error);
  if (fields) wire.fields = fields;
  if (typeof error.stack === 'string') wire.stack = error.stack;
  if (error.cause instanceof Error && depth < MAX_CAUSE_DEPTH) wire.cause = toWire(error.cause, depth + 1);
  return wire;
}

/** The error's own enumerable fields that are plain data; `undefined` when there are none. */
function plainFields(error: Error): Record<string, unknown> | undefined {
  let fields: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(error)) {
    if (RESERVED.has(key) || !isPlainData(value, 0)) continue;
    (fields ??= {})[key] = value;
  }
  return fields;
}

function isPlainData(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return true;
    case 'object': {
      if (depth >= MAX_FIELD_DEPTH) return false;
      if (Array.isArray(value)) return value.every((item) => isPlainData(item, depth + 1));
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      return Object.values(value).every((item) => isPlainData(item, depth + 1));
    }
    default:
      return false;
  }
}

/**
 * Rebuilds an error from its wire form: an instance of the class registered for its code, else for
 * its name (so `instanceof MailboxFullError` holds on the caller's side), with its code, kind,
 * message and fields; a plain `ActorError(code, message, { kind })` when neither is registered.
 * The constructor is not run (its arguments are not on the wire); the fields are set directly.
 *
 * @example
 * ```ts
 * const error = errorFromWire({ name: 'TimeoutError', message: 'ask timed out after 30 ms', code: 'TIMEOUT', kind: 'timeout' });
 * error instanceof TimeoutError; // true
 * ```
 */
export function errorFromWire(wire: WireError): ActorError {
  const rebuilt = fromWire(wire, 0);
  return rebuilt instanceof ActorError ? rebuilt : new ActorError(wire.code ?? 'ACTOR_FAILED', String(wire.message), { kind: ErrorKind.Internal });
}

function fromWire(wire: WireError, depth: number): Error {
  const code = typeof wire.code === 'string' ? wire.code : undefined;
  const cls = code === undefined ? undefined : (byCode.get(code) ?? byName.get(wire.name) ?? ActorError);
  // Reflect.construct with Error's behaviour and the class's prototype: a real Error (stack,
  // [[ErrorData]]) that is an instance of the class, without running a constructor whose arguments we lack.
  const error: Error = Reflect.construct(Error, [String(wire.message)], cls ?? Error);
  const own: Record<string, unknown> = { ...wire.fields, name: String(wire.name) };
  if (code !== undefined) {
    own.code = code;
    own.kind = isErrorKind(wire.kind) ? wire.kind : ErrorKind.Internal;
  }
  Object.assign(error, own);
  if (typeof wire.stack === 'string') error.stack = wire.stack;
  if (wire.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    Object.defineProperty(error, 'cause', { value: fromWire(wire.cause, depth + 1), writable: true, configurable: true });
  }
  return error;
}
