/**
 * @internal What a NATS failure means for `NatsKvStore`: the store's typed error naming the call,
 * the key, the bucket and the server. A server that cannot be reached is `StoreUnavailableError`
 * (the caller may retry); one that answers with an error is `StoreIoError` for a read and
 * `StoreWriteError` for a write, as `FileStore` reports a damaged directory.
 */
import { ClosedConnectionError, NoRespondersError, TimeoutError } from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { ActorError, describe } from '../../messaging/errors.js';
import { type StoreCallSite, StoreIoError, StoreUnavailableError, StoreWriteError } from './storeErrors.js';

/** @internal Where a call went: the server (`host:port`), the bucket and, for one key, the KV key. */
export interface NatsKvPlace {
  server: string;
  bucket: string;
  key?: string;
  timeoutMs: number;
}

/** @internal `nats-kv://<bucket>/<key>`: how errors name a value's place (or the bucket's). */
export function natsKvLocation(place: Pick<NatsKvPlace, 'bucket' | 'key'>): string {
  return `nats-kv://${place.bucket}${place.key === undefined ? '' : `/${place.key}`}`;
}

/** @internal The store error for `error`, thrown by NATS during a call (an ActorError is kept). */
export function natsStoreFailure(error: unknown, site: StoreCallSite, kind: 'read' | 'write', place: NatsKvPlace): ActorError {
  if (error instanceof ActorError) return error;
  const location = natsKvLocation(place);
  if (inChain(error, ClosedConnectionError)) {
    return new StoreUnavailableError(site, `the NATS connection to ${place.server} is closed (${location})`, error);
  }
  if (inChain(error, TimeoutError)) {
    const unknown = kind === 'write' ? '; whether the write was applied is unknown' : '';
    return new StoreUnavailableError(site, `nats-server at ${place.server} gave no answer within ${place.timeoutMs} ms (${location})${unknown}`, error);
  }
  const problem = natsProblem(error, location, place.server);
  return kind === 'read' ? new StoreIoError(site, problem, error) : new StoreWriteError(location, error, site, problem);
}

/** The code and text of a NATS error that is an answer: a JetStream API error, no responders, ... */
function natsProblem(error: unknown, location: string, server: string): { path: string; code: string | undefined; text: string } {
  if (error instanceof JetStreamApiError) {
    return { path: location, code: `JS_API_${error.code}`, text: `${location}: nats-server at ${server} refused: ${error.message}` };
  }
  if (inChain(error, NoRespondersError) || error instanceof JetStreamError) {
    return {
      path: location,
      code: 'NO_RESPONDERS',
      text: `${location}: no JetStream answered on nats-server at ${server} (is it started with -js, does the bucket exist?): ${describe(error)}`,
    };
  }
  return { path: location, code: error instanceof Error ? error.name : undefined, text: `${location}: ${describe(error)}` };
}

/** Whether `error` or one of its causes is an instance of `type`. */
function inChain(error: unknown, type: abstract new (...args: never[]) => Error): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    const link: Error = current;
    current = link.cause;
    if (link instanceof type) return true;
  }
  return false;
}
