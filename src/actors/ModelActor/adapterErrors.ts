import { ActorError, ErrorKind } from '../../messaging/errors.js';

/** Stable codes of the errors about LoRA adapters. */
export const AdapterErrorCode = {
  AdapterFileNotFound: 'ADAPTER_FILE_NOT_FOUND',
  NotAnAdapter: 'NOT_AN_ADAPTER',
  IncompatibleAdapter: 'INCOMPATIBLE_ADAPTER',
  AdapterNotApplied: 'ADAPTER_NOT_APPLIED',
  AdapterContextsFull: 'ADAPTER_CONTEXTS_FULL',
  AdapterLoadFailed: 'ADAPTER_LOAD_FAILED',
} as const;
export type AdapterErrorCode = (typeof AdapterErrorCode)[keyof typeof AdapterErrorCode];

/** The adapter file does not exist. */
export class AdapterFileNotFoundError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(readonly path: string) {
    super(AdapterErrorCode.AdapterFileNotFound, `adapter file not found: ${path}`);
  }
}

/** The file exists but is not a GGUF LoRA adapter (not GGUF, a whole model, another adapter kind, no LoRA tensors). */
export class NotAnAdapterError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(AdapterErrorCode.NotAnAdapter, `not a GGUF LoRA adapter: ${path} (${reason})`);
  }
}

/**
 * The adapter was made for another model: another architecture, a tensor the base model lacks, or
 * a shape that does not fit the base tensor.
 */
export class IncompatibleAdapterError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(
    readonly path: string,
    reason: string,
    /** The base tensor concerned, when the problem is one tensor. */
    readonly tensor?: string,
  ) {
    super(AdapterErrorCode.IncompatibleAdapter, `adapter ${path} does not fit the base model: ${reason}`);
  }
}

/** `removeAdapter` or `setAdapterScale` named an adapter that is not in the model's adapter set. */
export class AdapterNotAppliedError extends ActorError {
  override readonly kind = ErrorKind.NotFound;

  constructor(
    readonly path: string,
    applied: readonly string[],
  ) {
    super(
      AdapterErrorCode.AdapterNotApplied,
      `adapter ${path} is not applied (applied: ${applied.length === 0 ? 'none' : applied.join(', ')})`,
    );
  }
}

/**
 * A request needs a context for an adapter set that has none, and every context the model may
 * have is busy with other sets.
 */
export class AdapterContextsFullError extends ActorError {
  override readonly kind = ErrorKind.Overloaded;

  constructor(
    readonly inUse: number,
    readonly limit: number,
  ) {
    super(
      AdapterErrorCode.AdapterContextsFull,
      `adapter contexts full: ${inUse} in use (busy, or the model's own adapter set), limit ${limit} (maxContexts)`,
    );
  }
}

/** llama.cpp refused an adapter that passed validation. */
export class AdapterLoadError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(message: string, options?: { cause?: unknown }) {
    super(AdapterErrorCode.AdapterLoadFailed, message, options);
  }
}
