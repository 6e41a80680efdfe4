import { describe, expect, it } from 'vitest';
import { AdapterErrorCode } from '../../src/actors/ModelActor/adapterErrors.js';
import { ModelErrorCode } from '../../src/actors/ModelActor/modelErrors.js';
import { TrainingErrorCode } from '../../src/actors/TunerActor/training/trainingErrors.js';
import { TrainingSessionErrorCode, TunerErrorCode } from '../../src/actors/TunerActor/tunerErrors.js';
import { EntityErrorCode } from '../../src/entities/entityErrors.js';
import { StoreErrorCode } from '../../src/entities/store/storeErrors.js';
import { ActorError, ErrorCode } from '../../src/messaging/errors.js';
import { errorBody, httpStatus } from '../../src/server/httpErrors.js';

/**
 * Codes that are our own failures, so a 500 is the truth: the server, the store or llama.cpp
 * failed, not the caller. Every other code must have a 4xx (or 503/504) status: a caller's mistake
 * answered with a 500 tells them nothing and pages whoever runs the server.
 */
const OURS = new Set([
  ErrorCode.ActorFailed,
  ErrorCode.ConsumerFailed,
  ErrorCode.StreamOverflow,
  'MODEL_LOAD_FAILED',
  'STORE_CORRUPT',
  'STORE_WRITE_FAILED',
  'STORE_IO_ERROR',
  'STORE_DISPOSED',
  'NATIVE_LIBRARY_NOT_FOUND',
  'TRAINER_CRASHED',
  'TRAINER_FAILED',
  'LORA_EXTRACTION_FAILED',
  'GGML_ASSERT',
]);

const ALL_CODES = [
  ErrorCode,
  ModelErrorCode,
  AdapterErrorCode,
  TunerErrorCode,
  TrainingSessionErrorCode,
  TrainingErrorCode,
  EntityErrorCode,
  StoreErrorCode,
].flatMap((codes) => Object.values(codes) as string[]);

describe('HTTP statuses of the typed errors', () => {
  it('every code the runtime raises has a status: 4xx for the caller, 5xx only for our own failures', () => {
    const wrong = ALL_CODES.filter((code) => (httpStatus(new ActorError(code, 'x')) >= 500) !== (OURS.has(code) || code === ErrorCode.Timeout || isUnavailable(code)));
    expect(wrong.map((code) => `${code} → ${httpStatus(new ActorError(code, 'x'))}`)).toEqual([]);
  });

  it('the body names the code and a type that agrees with the status; untyped errors hide their message', () => {
    expect(errorBody(new ActorError('QUEUE_FULL', 'queue full: 64 waiting, limit 64'))).toEqual({
      error: { message: 'queue full: 64 waiting, limit 64', type: 'overloaded_error', code: 'QUEUE_FULL', param: null },
    });
    expect(errorBody(new ActorError('ENTITY_NOT_FOUND', 'model not found: @(x)')).error.type).toBe('not_found_error');
    expect(errorBody(new Error('/secret/path exploded'))).toEqual({ error: { message: 'internal error', type: 'server_error', code: 'INTERNAL_ERROR', param: null } });
  });
});

/** Overload and not-ready answers are 503 by design: retry later, nobody's mistake. */
function isUnavailable(code: string): boolean {
  return httpStatus(new ActorError(code, 'x')) === 503 || code === 'NOT_SUPPORTED_BY_BACKEND';
}
