import { describe, expect, it } from 'vitest';
import { QueueFullError } from '../../src/actors/ModelActor/modelErrors.js';
import { EntityNotFoundError } from '../../src/entities/entityErrors.js';
import { ActorError, ErrorKind } from '../../src/messaging/errors.js';
import { errorBody, httpStatus } from '../../src/server/httpErrors.js';

// Which status each error class answers, and that only our own failures are 5xx, is errorKinds.test.ts.
describe('HTTP statuses of the typed errors', () => {
  it('the body names the code and a type that agrees with the status; untyped errors hide their message', () => {
    expect(errorBody(new QueueFullError(64, 64, 4))).toEqual({
      error: { message: 'queue full: 64 waiting, limit 64 (all 4 slots busy)', type: 'overloaded_error', code: 'QUEUE_FULL', param: null },
    });
    expect(errorBody(new EntityNotFoundError('models', 'x')).error.type).toBe('not_found_error');
    expect(errorBody(new Error('/secret/path exploded'))).toEqual({ error: { message: 'internal error', type: 'server_error', code: 'INTERNAL_ERROR', param: null } });
  });

  it('the status follows the kind, not the code: a bare code is internal until it says its kind', () => {
    expect(httpStatus(new ActorError('QUEUE_FULL', 'x'))).toBe(500);
    expect(httpStatus(new ActorError('QUEUE_FULL', 'x', { kind: ErrorKind.Overloaded }))).toBe(503);
    expect(errorBody(new ActorError('QUEUE_FULL', 'x')).error).toMatchObject({ message: 'x', type: 'server_error', code: 'QUEUE_FULL' });
  });
});
