import { ActorKindMismatchError } from '../messaging/protocolErrors.js';
import { type Address, address, parseAddress } from '../messaging/address.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import { checkStoreKey } from './store/Store.js';

/**
 * The kinds of actor the managers run, each in its own namespace: a model `demo` lives at
 * `@(model/demo)`, a session `demo` at `@(session/demo)`, the model's tuner at `@(tuner/demo)`, so
 * a session can never be mistaken for a model of the same name.
 */
export const ActorKind = {
  Model: 'model',
  Session: 'session',
  Tuner: 'tuner',
} as const;
export type ActorKind = (typeof ActorKind)[keyof typeof ActorKind];

/**
 * The entity name an input means for `kind`: `demo`, `@(demo)` and `@(model/demo)` are the model
 * `demo`. A name is a store key (letters, digits and `._:-`), so entity keys and actor ids are one
 * grammar with the kind in front.
 *
 * @throws {ActorKindMismatchError} for an address of another kind (`@(session/demo)` given as a model).
 * @throws {InvalidArgumentError} / `INVALID_STORE_KEY` for a malformed name.
 */
export function entityName(kind: ActorKind, input: string | Address): string {
  const id = parseAddress(input);
  const slash = id.indexOf('/');
  if (slash < 0) return checkName(id);
  const prefix = id.slice(0, slash);
  if (prefix !== kind) throw new ActorKindMismatchError(id, kind, prefix);
  return checkName(id.slice(slash + 1));
}

/** The address of entity `name` of `kind`: `@(kind/name)`. */
export function kindAddress(kind: ActorKind, name: string): Address {
  return address(`${kind}/${checkName(name)}`);
}

function checkName(name: string): string {
  if (name.includes('/')) throw new InvalidArgumentError(`an entity name has no "/", got ${JSON.stringify(name)}`);
  checkStoreKey('id', name);
  return name;
}
