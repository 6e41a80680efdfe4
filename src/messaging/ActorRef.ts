import { type Address, parseAddress } from './address.js';
import type { GenerationResult } from './GenerationResult.js';
import type { GenerationStream } from './GenerationStream.js';
import type { AskType, MessageType, PayloadOf, Protocol, ProtocolShape, ReplyOf, StreamOf, StreamType } from './protocol.js';
import type { StreamCallback, TokenStreamEvent } from './TokenStreamEvent.js';
import type { ActorRouter, AskOptions, SendOptions, StreamOptions, StreamRequestOptions } from './types.js';

/** The events of a stream of message `K` of protocol `T`. */
export type EventOf<T extends ProtocolShape, K extends keyof T> = TokenStreamEvent<StreamOf<T, K>>;

/** `streamAsk` options through a ref: the callback receives the protocol's typed events. */
export interface RefStreamOptions<E> extends StreamRequestOptions {
  onChunk: StreamCallback<E>;
}

/**
 * A typed handle on one actor: its address and its protocol, so that every `ask`, `tell` and
 * `stream` is typed from the protocol (xstate's typed `send`, Akka Typed's `ActorRef[T]`). A ref
 * is a local handle, not data: send the address in a payload and make a ref with `router.ref()`
 * on the other side. Every send through it checks the actor's kind: a ref of one kind that meets an
 * actor of another gets `ACTOR_KIND_MISMATCH`, not a confusing reply.
 *
 * @example
 * ```ts
 * const model = router.ref(address('model/demo'), modelProtocol);
 * const info = await model.ask(ModelMessage.Info, null); // typed: ModelInfo
 * for await (const text of model.stream(ModelMessage.Generate, { prompt: 'Hi' }).text) process.stdout.write(text);
 * ```
 */
export class ActorRef<T extends ProtocolShape = ProtocolShape> {
  /** @internal Made by `MessageRouter.ref` (or {@link ActorRef.via}). */
  constructor(
    readonly address: Address,
    readonly protocol: Protocol<T>,
    private readonly router: ActorRouter,
  ) {}

  /** The actor's id (the address without `@(` `)`). */
  get id(): string {
    return parseAddress(this.address);
  }

  /** The same actor reached through another router view (an actor's `context.router`, so sends carry `from`). */
  via(router: ActorRouter): ActorRef<T> {
    return new ActorRef(this.address, this.protocol, router);
  }

  tell<K extends MessageType<T>>(type: K, payload: PayloadOf<T, K>, options: SendOptions = {}): boolean {
    return this.router.tell(this.address, type, payload, this.checked(options));
  }

  ask<K extends AskType<T>>(type: K, payload: PayloadOf<T, K>, options: AskOptions = {}): Promise<ReplyOf<T, K>> {
    return this.router.ask<ReplyOf<T, K>>(this.address, type, payload, this.checked(options));
  }

  stream<K extends StreamType<T>>(
    type: K,
    payload: PayloadOf<T, K>,
    options: StreamRequestOptions = {},
  ): GenerationStream<StreamOf<T, K>> {
    return this.router.stream(this.address, type, payload, this.checked(options)) as GenerationStream<StreamOf<T, K>>;
  }

  async streamAsk<K extends StreamType<T>>(
    type: K,
    payload: PayloadOf<T, K>,
    options: RefStreamOptions<EventOf<T, K>>,
  ): Promise<GenerationResult<StreamOf<T, K>>> {
    const result = await this.router.streamAsk(this.address, type, payload, this.checked(options) as StreamOptions);
    return result as GenerationResult<StreamOf<T, K>>;
  }

  private checked<O extends SendOptions>(options: O): O {
    return { ...options, expectKind: this.protocol.kind };
  }
}
