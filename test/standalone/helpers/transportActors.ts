/**
 * The actors of the transport contract suite (test/standalone/transport.test.ts), registered the
 * same way in the test's own process and in the child host (transportHost.ts), so one suite runs
 * them in process, over an InMemoryTransport and in a real child process. What the remote side
 * did (handlers aborted, events emitted) is read back with the `stats` ask, so the test sees it
 * whatever the process.
 */
// Kernel modules only (not the package's index): the child host starts in a fraction of the time.
import { Actor } from '../../../src/messaging/Actor.js';
import { ActorError, ErrorKind } from '../../../src/messaging/errors.js';
import type { Message } from '../../../src/messaging/Message.js';
import type { MessageRouter } from '../../../src/messaging/MessageRouter.js';
import { defineProtocol, Lane, type StreamShape } from '../../../src/messaging/protocol.js';
import type { StreamCallback, TokenStreamEventInput, TokenUsage } from '../../../src/messaging/TokenStreamEvent.js';
import type { ActorContext } from '../../../src/messaging/types.js';
import { registerWireErrors } from '../../../src/messaging/transport/wireErrors.js';

/** A typed error of the test's own, registered for the wire on both sides (this module is imported by both). */
export class QuotaError extends ActorError {
  override readonly kind = ErrorKind.Overloaded;

  constructor(
    readonly used: number,
    readonly limit: number,
  ) {
    super('QUOTA', `quota exceeded: ${used} requests, limit ${limit}`);
  }
}
registerWireErrors(QuotaError);

export const ProbeMessage = {
  Echo: 'echo',
  Fail: 'fail',
  Hang: 'hang',
  Record: 'record',
  Log: 'log',
  Stats: 'stats',
  Words: 'words',
  Count: 'count',
  FailStream: 'failStream',
  /** A stream that emits nothing until its signal fires (a producer still waiting for a slot). */
  Silent: 'silent',
  Unclonable: 'unclonable',
} as const;

export const PROBE = 'probe/main';
export const PLAIN = 'plain/main';

/** What each probe message carries, for typed refs. */
export interface ProbeProtocol {
  echo: { payload: unknown; reply: { echoed: unknown; scope: string | null } };
  fail: { payload: 'quota' | 'crash'; reply: never };
  hang: { payload: null; reply: string };
  record: { payload: unknown };
  log: { payload: null; reply: unknown[] };
  stats: { payload: null; reply: ProbeStats };
  words: { payload: string; stream: { usage: TokenUsage; data: { words: number } } };
  count: { payload: { n: number }; stream: StreamShape };
  failStream: { payload: null; stream: StreamShape };
  silent: { payload: null; stream: StreamShape };
  unclonable: { payload: null; reply: unknown };
}

export const probeProtocol = defineProtocol<ProbeProtocol>('probe', {
  [ProbeMessage.Echo]: { exposed: true },
  [ProbeMessage.Fail]: {},
  [ProbeMessage.Hang]: { lane: Lane.Concurrent },
  [ProbeMessage.Record]: {},
  [ProbeMessage.Log]: { lane: Lane.Concurrent },
  [ProbeMessage.Stats]: { lane: Lane.Concurrent },
  [ProbeMessage.Words]: { stream: true, paths: ['file'] },
  [ProbeMessage.Count]: { stream: true },
  [ProbeMessage.FailStream]: { stream: true },
  [ProbeMessage.Silent]: { stream: true },
  [ProbeMessage.Unclonable]: {},
});

/** What the probe has seen, for the test to read back across the boundary. */
export interface ProbeStats {
  /** Handlers whose signal fired (ask timeouts and aborts, cancelled streams). */
  aborted: number;
  /** `hang` handlers running now. */
  hanging: number;
  /** Events the last `count` stream's producer handed to onChunk, and of those, how many resolved. */
  emitted: number;
  resolved: number;
}

/** Resolves when `signal` fires. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The actor with a protocol: every behaviour the contract needs, one message type each. */
export class ProbeActor extends Actor {
  override readonly protocol = probeProtocol;
  private readonly stats: ProbeStats = { aborted: 0, hanging: 0, emitted: 0, resolved: 0 };
  private readonly log: unknown[] = [];

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    const { signal } = context;
    switch (message.type) {
      case ProbeMessage.Echo:
        return { echoed: message.payload, scope: message.scope ?? null };
      case ProbeMessage.Fail:
        if (message.payload === 'quota') throw new QuotaError(11, 10);
        throw new Error('boom');
      case ProbeMessage.Hang:
        this.stats.hanging++;
        await untilAborted(signal);
        this.stats.hanging--;
        this.stats.aborted++;
        return 'too late';
      case ProbeMessage.Record:
        this.log.push(message.payload);
        return undefined;
      case ProbeMessage.Log:
        return [...this.log];
      case ProbeMessage.Stats:
        return { ...this.stats };
      case ProbeMessage.Unclonable:
        return { call: () => 'functions do not cross processes' };
      default:
        return super.receive(message, context);
    }
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>, context: ActorContext): Promise<void> {
    const { signal } = context;
    signal.addEventListener('abort', () => void this.stats.aborted++, { once: true });
    switch (context.message.type) {
      case ProbeMessage.Words:
        for (const word of String(payload).split(' ')) {
          if (signal.aborted) return;
          await onChunk({ type: 'token', content: word });
        }
        await onChunk({ type: 'done', finishReason: 'length', usage: { promptTokens: 1, completionTokens: 3, totalTokens: 4 }, data: { words: 3 } });
        return;
      case ProbeMessage.Count: {
        this.stats.emitted = 0;
        this.stats.resolved = 0;
        const n = (payload as { n: number }).n;
        for (let i = 0; i < n && !signal.aborted; i++) {
          this.stats.emitted++;
          await onChunk({ type: 'token', content: `t${i}` });
          this.stats.resolved++;
        }
        return;
      }
      case ProbeMessage.FailStream:
        await onChunk({ type: 'token', content: 'one' });
        throw new QuotaError(12, 10);
      case ProbeMessage.Silent:
        await untilAborted(signal);
        return;
      default:
        throw new Error(`no stream ${context.message.type}`);
    }
  }
}

/** An actor without a protocol: any message type, in the exclusive lane, and a stream. */
export class PlainActor extends Actor {
  override receive(message: Message): unknown {
    return { plain: message.payload };
  }

  override async stream(payload: unknown, onChunk: StreamCallback<TokenStreamEventInput>): Promise<void> {
    await onChunk({ type: 'token', content: String(payload) });
  }
}

/** Registers the suite's actors. */
export function registerProbeActors(router: MessageRouter): void {
  router.registerActor(PROBE, new ProbeActor());
  router.registerActor(PLAIN, new PlainActor());
}
