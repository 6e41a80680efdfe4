import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DeadLetterReason, type InspectionEvent, InspectionEventType, MessageRouter } from '../../src/index.js';
import { FnActor, flush, newRouter, TestMessage, wordStreamer } from './fixtures.js';

/** A pino logger whose JSON lines the test can read. */
function captureLogger(level: string) {
  const lines: string[] = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    }),
  );
  return { lines, logger };
}

describe('inspection', () => {
  it('sees every message, reply, stream event, dead letter and lifecycle change', async () => {
    const events: InspectionEvent[] = [];
    const router = newRouter({ inspect: (event) => events.push(event) });
    router.registerActor('words', new FnActor({ receive: () => 'pong', stream: wordStreamer }));
    await router.ask('words', TestMessage.Echo, 'ping');
    await router.stream('words', TestMessage.Words, 'a b').collect();
    router.tell('nobody', TestMessage.Work, null);
    await router.unregisterActor('words');

    const summary = events.map((e) => {
      switch (e.type) {
        case InspectionEventType.Message:
          return `${e.type} ${e.message.pattern} ${e.message.to}`;
        case InspectionEventType.Reply:
          return `${e.type} ${String(e.message.payload)}`;
        case InspectionEventType.StreamEvent:
          return `${e.type} ${e.event.content ?? e.event.type}`;
        case InspectionEventType.DeadLetter:
          return `${e.type} ${e.deadLetter.reason}`;
        default:
          return e.type;
      }
    });
    expect(summary).toEqual([
      '@actor.registered',
      '@message ask @(words)',
      '@actor.started',
      '@reply pong',
      '@message stream @(words)',
      '@stream.event a',
      '@stream.event b',
      '@stream.event done',
      '@message tell @(nobody)',
      `@dead-letter ${DeadLetterReason.ActorNotFound}`,
      '@actor.stopped',
    ]);
    const streamEvents = events.filter((e) => e.type === InspectionEventType.StreamEvent);
    const streamMessage = events.find((e) => e.type === InspectionEventType.Message && e.message.pattern === 'stream');
    expect(new Set(streamEvents.map((e) => e.streamId))).toEqual(
      new Set([streamMessage?.type === InspectionEventType.Message ? streamMessage.message.id : 'missing']),
    );
  });

  it('an inspector or dead-letter listener that throws is logged and changes nothing', async () => {
    const { lines, logger } = captureLogger('error');
    const router = new MessageRouter({
      logger,
      inspect: () => {
        throw new Error('inspector bug');
      },
    });
    router.onDeadLetter(() => {
      throw new Error('listener bug');
    });
    router.registerActor('echo', new FnActor({ receive: (m) => m.payload, stream: wordStreamer }));
    await expect(router.ask('echo', TestMessage.Echo, 5)).resolves.toBe(5);
    await expect(router.stream('echo', TestMessage.Words, 'x y').collect()).resolves.toBe('xy');
    expect(router.tell('ghost', TestMessage.Work, null)).toBe(false);
    await flush();
    expect(lines.some((l) => l.includes('inspector threw'))).toBe(true);
    expect(lines.some((l) => l.includes('listener bug') && l.includes('dead-letter listener'))).toBe(true);
    await router.dispose();
  });

  it('actors get a child logger bound to their id, injected through the router options', async () => {
    const { lines, logger } = captureLogger('info');
    const router = new MessageRouter({ logger });
    router.registerActor('talker', new FnActor({ receive: (_m, ctx) => void ctx.logger.info('handled') }));
    await router.ask('talker', TestMessage.Work, null);
    const line = JSON.parse(lines.find((l) => l.includes('handled')) ?? '{}') as Record<string, unknown>;
    expect(line.actor).toBe('talker');
    await router.dispose();
  });
});
