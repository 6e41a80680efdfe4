import { ActorError, ErrorKind } from '../../../messaging/errors.js';

/** Stable codes of the native engine's errors. */
export const NativeErrorCode = {
  NativeDecodeFailed: 'NATIVE_DECODE_FAILED',
  NativeModelLoadFailed: 'NATIVE_MODEL_LOAD_FAILED',
} as const;
export type NativeErrorCode = (typeof NativeErrorCode)[keyof typeof NativeErrorCode];

/** llama.cpp failed to load, create a context or decode a batch in the native engine (our fault: 5xx). */
export class NativeDecodeError extends ActorError {
  override readonly kind = ErrorKind.Internal;

  constructor(message: string, options?: { cause?: unknown }) {
    super(NativeErrorCode.NativeDecodeFailed, message, options);
  }
}

/** llama.cpp refused the model file in the native engine (the ModelActor reports it as `INVALID_MODEL_FILE`). */
export class NativeModelLoadError extends ActorError {
  override readonly kind = ErrorKind.Invalid;

  constructor(message: string, options?: { cause?: unknown }) {
    super(NativeErrorCode.NativeModelLoadFailed, message, options);
  }
}
