import type { ActorRef } from './ActorRef.js';
import type { Address } from './address.js';
import type { GenerationResult } from './GenerationResult.js';
import type { GenerationStream } from './GenerationStream.js';
import type { Protocol, ProtocolShape } from './protocol.js';
import type { ActorRouter, AskOptions, SendOptions, StreamOptions, StreamRequestOptions } from './types.js';

/**
 * @internal The router as an actor sees it (its `context.router`): everything it sends carries its
 * address as `from`, unless the handler set another, and refs made through it keep doing so.
 */
export class SenderRouter implements ActorRouter {
  constructor(
    private readonly router: ActorRouter,
    private readonly self: Address,
  ) {}

  ref<T extends ProtocolShape>(to: Address | string, protocol: Protocol<T>): ActorRef<T> {
    return this.router.ref(to, protocol).via(this);
  }

  tell<P>(to: Address | string, type: string, payload: P, options: SendOptions = {}): boolean {
    return this.router.tell(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  ask<R = unknown, P = unknown>(to: Address | string, type: string, payload: P, options: AskOptions = {}): Promise<R> {
    return this.router.ask<R, P>(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  streamAsk<P>(to: Address | string, type: string, payload: P, options: StreamOptions): Promise<GenerationResult> {
    return this.router.streamAsk(to, type, payload, { ...options, from: options.from ?? this.self });
  }

  stream<P>(to: Address | string, type: string, payload: P, options: StreamRequestOptions = {}): GenerationStream {
    return this.router.stream(to, type, payload, { ...options, from: options.from ?? this.self });
  }
}
