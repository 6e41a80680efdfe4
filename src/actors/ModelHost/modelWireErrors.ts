import { registerWireErrors } from '../../messaging/transport/wireErrors.js';
import {
  AdapterContextsFullError,
  AdapterFileNotFoundError,
  AdapterLoadError,
  AdapterNotAppliedError,
  IncompatibleAdapterError,
  NotAnAdapterError,
} from '../ModelActor/adapterErrors.js';
import {
  EmbeddingsDisabledError,
  InvalidParameterError,
  ModelLoadError,
  ModelNotReadyError,
  PromptTooLongError,
  QueueFullError,
  EmptyPromptError,
  UnsupportedSchemaError,
} from '../ModelActor/modelErrors.js';
import { NativeDecodeError, NativeModelLoadError } from '../ModelActor/native/nativeErrors.js';
import { ModelHostCrashedError, ModelHostStartError } from './hostErrors.js';

let registered = false;

/**
 * @internal The ModelActor's error classes, registered for the transport on both sides of a model
 * host: a `QUEUE_FULL` in the host is a {@link QueueFullError} for the caller (same class, code,
 * kind and fields), so the HTTP status, `Retry-After` and every `instanceof` stay what they are in
 * process. Idempotent.
 */
export function registerModelWireErrors(): void {
  if (registered) return;
  registered = true;
  registerWireErrors(
    AdapterContextsFullError,
    AdapterFileNotFoundError,
    AdapterLoadError,
    AdapterNotAppliedError,
    IncompatibleAdapterError,
    NotAnAdapterError,
    EmbeddingsDisabledError,
    EmptyPromptError,
    InvalidParameterError,
    ModelLoadError,
    ModelNotReadyError,
    PromptTooLongError,
    QueueFullError,
    UnsupportedSchemaError,
    NativeDecodeError,
    NativeModelLoadError,
    ModelHostCrashedError,
    ModelHostStartError,
  );
}
