import { ActorError, ErrorKind } from './errors.js';

/** Codes of the protocol layer's errors. */
export const ProtocolErrorCode = {
  ActorKindMismatch: 'ACTOR_KIND_MISMATCH',
} as const;

/** A ref of one kind points at an actor of another (a session where a model was expected). */
export class ActorKindMismatchError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly actorId: string,
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(
      ProtocolErrorCode.ActorKindMismatch,
      `@(${actorId}) is ${actual === undefined ? 'an actor without a protocol' : `a ${actual}`}, not a ${expected}`,
    );
  }
}
