import {
  Actor,
  type ActorContext,
  type ActorLifecycleContext,
  type Message,
  MessageRouter,
  type MessageRouterOptions,
  type StreamCallback,
  type TokenStreamEventInput,
} from '../../src/index.js';
import { pino } from 'pino';

/** Message types of the test actors, as constants (never string literals at call sites). */
export const TestMessage = {
  Echo: 'echo',
  Work: 'work',
  Words: 'words',
} as const;

export type ReceiveFn = (message: Message, context: ActorContext) => unknown;
export type StreamFn = (
  payload: unknown,
  onChunk: StreamCallback<TokenStreamEventInput>,
  context: ActorContext,
) => Promise<void> | void;

/** An actor whose handlers are given as functions, so each test says exactly what it does. */
export class FnActor extends Actor {
  readonly starts: number[] = [];
  stops = 0;

  constructor(
    private readonly handlers: {
      receive?: ReceiveFn;
      stream?: StreamFn;
      onStart?: (context: ActorLifecycleContext) => Promise<void> | void;
      onStop?: (context: ActorLifecycleContext) => Promise<void> | void;
    } = {},
  ) {
    super();
    if (handlers.stream) {
      const stream = handlers.stream;
      this.stream = (payload, onChunk, context) => stream(payload, onChunk, context);
    }
  }

  override receive(message: Message, context: ActorContext): unknown {
    if (this.handlers.receive) return this.handlers.receive(message, context);
    return super.receive(message, context);
  }

  override async onStart(context: ActorLifecycleContext): Promise<void> {
    this.starts.push(context.restarts);
    await this.handlers.onStart?.(context);
  }

  override async onStop(context: ActorLifecycleContext): Promise<void> {
    this.stops++;
    await this.handlers.onStop?.(context);
  }
}

/** Streams the words of a string payload, one token each, awaiting onChunk. */
export const wordStreamer: StreamFn = async (payload, onChunk, { signal }) => {
  for (const word of String(payload).split(' ')) {
    if (signal.aborted) return;
    await onChunk({ type: 'token', content: word });
  }
};

/** A promise resolved by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (e: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask (and promise chain) run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

export function newRouter(options: MessageRouterOptions = {}): MessageRouter {
  return new MessageRouter({ logger: pino({ level: 'silent' }), ...options });
}

/** A clock whose time moves only when the test says; timers fire on `advance`. */
export class ManualClock {
  private time = 1_000;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  now = (): number => this.time;

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = target;
  }

  get pending(): number {
    return this.timers.size;
  }
}
