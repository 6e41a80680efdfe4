import { setMaxListeners } from 'node:events';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const signals = new WeakMap<FastifyRequest, AbortSignal>();

/**
 * @internal Watches every request's connection from the moment its headers arrive: the signal
 * fires when the client goes away before its response has been written in full. Attached in
 * `onRequest`, before the body is read, so a client that hangs up while its request is parsed,
 * waits for a model to load, is queued or is generating is noticed at every stage; a listener
 * attached later would miss a `close` that already happened.
 */
export function trackClients(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const controller = new AbortController();
    // One request's signal legitimately reaches many concurrent awaits (listing 100 sessions reads
    // 100 files, each listening for the abort): node's default warning at 11 would be noise.
    setMaxListeners(0, controller.signal);
    signals.set(request, controller.signal);
    const response = reply.raw;
    const gone = (): void => {
      if (!response.writableFinished && !controller.signal.aborted) controller.abort(new Error('client disconnected'));
    };
    if (request.raw.socket?.destroyed) gone();
    response.once('close', gone);
  });
}

/** @internal The request's client-gone signal (see {@link trackClients}). */
export function clientSignal(request: FastifyRequest): AbortSignal {
  const signal = signals.get(request);
  if (!signal) throw new Error('trackClients was not installed on this server');
  return signal;
}
