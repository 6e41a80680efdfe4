import type { Address } from './address.js';
import type { ActorError } from './errors.js';
import type { Message } from './Message.js';
import type { TokenStreamEvent } from './TokenStreamEvent.js';

/** What an actor emitted, as delivered to `MessageRouter.subscribe` observers. */
export type ActorEmission =
  | { kind: 'stream-event'; actor: Address; request: Message; event: TokenStreamEvent }
  | { kind: 'reply'; actor: Address; request: Message; reply: unknown; error?: ActorError };

/** Receives {@link ActorEmission}s. Exceptions it throws are logged and ignored. */
export type EmissionListener = (emission: ActorEmission) => void;

/** Options of `MessageRouter.subscribe`. */
export interface SubscribeOptions {
  /** Only emissions for requests sent with this `scope`. Defaults to all. */
  scope?: string;
}

interface Observer {
  listener: EmissionListener;
  scope: string | undefined;
}

/** @internal The actor whose emission it is: its id keys the observers, its address goes in the emission. */
interface Emitter {
  readonly id: string;
  readonly address: Address;
}

/**
 * @internal The router's observers, by actor id. Keyed by id rather than by cell so that an
 * observer may subscribe before its actor is registered and stays through restarts and
 * re-registrations. Observers apply no backpressure: they are called synchronously, in order.
 */
export class EmissionObservers {
  private readonly byActor = new Map<string, Set<Observer>>();

  /** @param report where an observer's exception goes (it disturbs neither the actor nor other observers). */
  constructor(private readonly report: (error: unknown, source: string) => void) {}

  /** Adds an observer of the actor `actorId`. Returns a function that removes it. */
  subscribe(actorId: string, listener: EmissionListener, options: SubscribeOptions): () => void {
    let set = this.byActor.get(actorId);
    if (!set) {
      set = new Set();
      this.byActor.set(actorId, set);
    }
    const observer: Observer = { listener, scope: options.scope };
    set.add(observer);
    return () => {
      set.delete(observer);
      if (set.size === 0 && this.byActor.get(actorId) === set) this.byActor.delete(actorId);
    };
  }

  /** An event the actor emitted on the stream opened by `request`. */
  streamEvent(actor: Emitter, request: Message, event: TokenStreamEvent): void {
    const observers = this.byActor.get(actor.id);
    if (observers) this.notify(observers, { kind: 'stream-event', actor: actor.address, request, event });
  }

  /** The outcome of the ask `request`: its reply value, or the error its caller got. */
  reply(actor: Emitter, request: Message, value: unknown, error: ActorError | undefined): void {
    const observers = this.byActor.get(actor.id);
    if (!observers) return;
    const emission: ActorEmission = error
      ? { kind: 'reply', actor: actor.address, request, reply: undefined, error }
      : { kind: 'reply', actor: actor.address, request, reply: value };
    this.notify(observers, emission);
  }

  private notify(observers: Set<Observer>, emission: ActorEmission): void {
    for (const observer of observers) {
      if (observer.scope !== undefined && observer.scope !== emission.request.scope) continue;
      try {
        observer.listener(emission);
      } catch (error) {
        this.report(error, `subscriber of ${emission.actor}`);
      }
    }
  }
}
