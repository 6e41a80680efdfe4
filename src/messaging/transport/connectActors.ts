import type { Logger } from 'pino';
import type { Address } from '../address.js';
import type { MessageRouter } from '../MessageRouter.js';
import type { ActorOptions } from '../types.js';
import type { ExportedActor } from './frames.js';
import { RemoteActor } from './RemoteActor.js';
import type { TransportPeer } from './TransportPeer.js';

/** Options of {@link connectActors}. */
export interface ConnectActorsOptions {
  /** Which of the peer's actors to register: their ids, or a predicate on the id. Defaults to all of them. */
  actors?: readonly string[] | ((id: string) => boolean);
  /**
   * Registration options of every proxy (mailbox size, supervision, ...). Defaults to the router's,
   * and for an actor without a protocol to no limit on the calls running at once (ordering is the
   * remote mailbox's job).
   */
  actorOptions?: ActorOptions;
  /** Credit window of the proxies' streams. Defaults to the peer's `highWaterMark` (`64`). */
  highWaterMark?: number;
  /** Whether later hellos register the actors that appeared and unregister those that went. Defaults to `true`. */
  follow?: boolean;
  /** Aborts the wait for the peer's hello. */
  signal?: AbortSignal;
  /** pino logger for proxies that could not be registered later on. Defaults to the router's. */
  logger?: Logger;
}

/** The proxies {@link connectActors} registered. */
export interface ConnectedActors extends AsyncDisposable {
  /** Their addresses, as registered now. */
  readonly addresses: readonly Address[];
  /** Unregisters every proxy (their calls in flight are aborted) and stops following hellos; the peer stays. Idempotent. */
  dispose(): Promise<void>;
}

/** A protocol-less proxy runs every call at once: a second, local queue would serialize the remote actor's work. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/**
 * Registers a {@link RemoteActor} in `router` for each actor the peer exports, under the same ids,
 * so that local code, refs and the HTTP server reach them as if they were local. Waits for the
 * peer's hello.
 *
 * @throws {ActorAlreadyRegisteredError} when an id is taken locally (nothing stays registered);
 *   {@link ActorHostLostError} when the peer is lost before its hello; `ABORTED` when `signal` fires.
 * @example
 * ```ts
 * const child = fork('host.js', [], { serialization: 'advanced' });
 * const peer = new TransportPeer(new ChildProcessTransport(child));
 * await using remote = await connectActors(router, peer);
 * console.log(remote.addresses); // ['@(model/tiny)']
 * await router.ask('model/tiny', 'info', null);
 * ```
 */
export async function connectActors(router: MessageRouter, peer: TransportPeer, options: ConnectActorsOptions = {}): Promise<ConnectedActors> {
  const wanted = selector(options.actors);
  const logger = options.logger ?? router.logger;
  const registered = new Map<string, Address>();
  const register = (actor: ExportedActor): void => {
    const proxy = new RemoteActor(peer, actor.id, actor.protocol, options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark });
    const defaults: ActorOptions = actor.protocol ? {} : { concurrency: UNLIMITED };
    registered.set(actor.id, router.registerActor(actor.id, proxy, { ...defaults, ...options.actorOptions }));
  };
  const initial = (await peer.actors(options.signal ? { signal: options.signal } : {})).filter((actor) => wanted(actor.id));
  try {
    for (const actor of initial) register(actor);
  } catch (error) {
    await Promise.all([...registered.keys()].map((id) => router.unregisterActor(id)));
    throw error;
  }
  const follow = (actors: readonly ExportedActor[]): void => {
    const now = new Set(actors.map((actor) => actor.id));
    for (const id of [...registered.keys()]) {
      if (now.has(id)) continue;
      registered.delete(id);
      void router.unregisterActor(id);
    }
    for (const actor of actors) {
      if (!wanted(actor.id) || registered.has(actor.id)) continue;
      try {
        register(actor);
      } catch (error) {
        logger.warn({ err: error, actor: actor.id }, 'connectActors: a new remote actor could not be registered');
      }
    }
  };
  const unfollow = (options.follow ?? true) ? peer.onActors(follow) : () => {};
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      unfollow();
      const ids = [...registered.keys()];
      registered.clear();
      await Promise.all(ids.map((id) => router.unregisterActor(id)));
    })();
    return disposing;
  };
  return {
    get addresses() {
      return [...registered.values()];
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

function selector(filter: ConnectActorsOptions['actors']): (id: string) => boolean {
  if (typeof filter === 'function') return filter;
  if (filter === undefined) return () => true;
  const ids = new Set(filter);
  return (id) => ids.has(id);
}
