import { Actor } from '../Actor.js';
import { type Message, MessagePattern } from '../Message.js';
import { defineProtocol, Lane, type MessageSpec, type Protocol } from '../protocol.js';
import { StreamEventType, type StreamCallback, type TokenStreamEventInput } from '../TokenStreamEvent.js';
import type { ActorContext } from '../types.js';
import type { PeerSendOptions } from './TransportPeerOptions.js';
import type { TransportPeer } from './TransportPeer.js';

/** Options of the {@link RemoteActor} constructor. */
export interface RemoteActorOptions {
  /** Credit window of its streams (chunks sent ahead of the local consumer). Defaults to the peer's `highWaterMark` (`64`). */
  highWaterMark?: number;
}

/**
 * The remote protocol as the proxy declares it: the same kind, message types, stream flags,
 * exposure and paths, with every lane concurrent. Ordering is the remote actor's own mailbox's job;
 * a second, local exclusive lane would only serialize calls that the remote one runs side by side.
 */
function concurrentProtocol(remote: Pick<Protocol, 'kind' | 'messages'>): Protocol {
  const specs: Readonly<Record<string, MessageSpec>> = remote.messages;
  const messages: Record<string, MessageSpec> = {};
  for (const [type, spec] of Object.entries(specs)) messages[type] = { ...spec, lane: Lane.Concurrent };
  return defineProtocol(remote.kind, messages);
}

/** What a message's envelope says that the remote one should say too. */
function sendOptionsOf(message: Message): PeerSendOptions {
  const options: PeerSendOptions = {};
  if (message.scope !== undefined) options.scope = message.scope;
  if (message.from !== undefined) options.from = message.from;
  return options;
}

/**
 * An actor in the local router that stands for one behind a {@link TransportPeer}: every message
 * is forwarded to it with the router's semantics. `receive` becomes the peer's ask (or tell), its
 * reply the reply; `stream` becomes the peer's stream, its events fed to the local `onChunk` (so
 * the local consumer's pace reaches the remote producer, through credit); the handler's signal
 * (timeout, abort, cancel, stop) cancels the remote call. A remote error comes back with its class
 * and code, also as a stream's error (thrown, so that the local stream's error keeps the class).
 * Its protocol is the remote one with every lane concurrent. Register it with a high `concurrency`
 * when the remote actor has no protocol (see {@link connectActors}, which does).
 *
 * @example
 * ```ts
 * const [near, far] = InMemoryTransport.pair();
 * exportActors(hostRouter, far);
 * const peer = new TransportPeer(near);
 * router.registerActor('counter/main', new RemoteActor(peer, 'counter/main', counterProtocol));
 * const counter = router.ref('counter/main', counterProtocol);
 * await counter.ask('add', { by: 2 }); // answered by hostRouter's counter
 * ```
 */
export class RemoteActor extends Actor {
  override readonly protocol: Protocol | undefined;

  /**
   * @param peer the calling side of the transport the actor is behind.
   * @param remoteId the actor's id on the other side.
   * @param protocol its protocol (from the peer's hello, or the local declaration of the same); none: any message type.
   */
  constructor(
    readonly peer: TransportPeer,
    readonly remoteId: string,
    protocol?: Pick<Protocol, 'kind' | 'messages'> | null,
    private readonly options: RemoteActorOptions = {},
  ) {
    super();
    this.protocol = protocol ? concurrentProtocol(protocol) : undefined;
  }

  /** Forwards a tell (nothing to wait for) or an ask (resolves with the remote reply). */
  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    if (message.pattern === MessagePattern.Tell) {
      this.peer.tell(this.remoteId, message.type, message.payload, sendOptionsOf(message));
      return undefined;
    }
    return this.peer.ask(this.remoteId, message.type, message.payload, { ...sendOptionsOf(message), signal: context.signal });
  }

  /** Forwards a stream: remote events to `onChunk` as they come, paced by it; a remote error is thrown. */
  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    const end = await this.peer.stream(
      this.remoteId,
      context.message.type,
      payload,
      // The error event is not forwarded: the error itself is thrown below, with its class.
      (event) => (event.type === StreamEventType.Error ? undefined : onChunk(event)),
      {
        ...sendOptionsOf(context.message),
        signal: context.signal,
        ...(this.options.highWaterMark !== undefined ? { highWaterMark: this.options.highWaterMark } : {}),
      },
    );
    // Aborted here: the local stream has its ending already.
    if (end.error !== undefined && !context.signal.aborted) throw end.error;
  }
}
