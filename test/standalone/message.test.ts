import { describe, expect, it } from 'vitest';
import { address, createMessage, type InspectionEvent, InspectionEventType, MessagePattern } from '../../src/index.js';
import { FnActor, newRouter, TestMessage } from './fixtures.js';

describe('message envelope', () => {
  it('has a unique nanoid id and every field, optional ones left off', () => {
    const a = createMessage({ type: 'ping', payload: 1, pattern: MessagePattern.Tell, to: address('x'), timestamp: 5 });
    const b = createMessage({ type: 'ping', payload: 1, pattern: MessagePattern.Tell, to: address('x'), timestamp: 5 });
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(a.id).not.toBe(b.id);
    expect(a).toEqual({ id: a.id, type: 'ping', payload: 1, pattern: 'tell', to: '@(x)', timestamp: 5 });
    expect('from' in a).toBe(false);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('replies carry the request id as correlationId, and asks made from an actor carry its address as from', async () => {
    const events: InspectionEvent[] = [];
    const router = newRouter({ inspect: (event) => events.push(event) });
    router.registerActor('inner', new FnActor({ receive: (message) => `inner got ${String(message.payload)}` }));
    router.registerActor(
      'outer',
      new FnActor({ receive: (message, { router: r }) => r.ask(address('inner'), TestMessage.Echo, message.payload) }),
    );
    await expect(router.ask(address('outer'), TestMessage.Echo, 'x', { scope: 'tab-1' })).resolves.toBe('inner got x');

    const messages = events.flatMap((e) => (e.type === InspectionEventType.Message ? [e.message] : []));
    const replies = events.flatMap((e) => (e.type === InspectionEventType.Reply ? [e.message] : []));
    const toOuter = messages.find((m) => m.to === address('outer'));
    const toInner = messages.find((m) => m.to === address('inner'));
    expect(toOuter?.pattern).toBe(MessagePattern.Ask);
    expect(toOuter?.scope).toBe('tab-1');
    expect(toOuter?.from).toBeUndefined();
    expect(toInner?.from).toBe('@(outer)');
    const innerReply = replies.find((r) => r.correlationId === toInner?.id);
    expect(innerReply).toMatchObject({ pattern: MessagePattern.Reply, from: '@(inner)', to: '@(outer)', payload: 'inner got x' });
    expect(replies.find((r) => r.correlationId === toOuter?.id)?.payload).toBe('inner got x');
    await router.dispose();
  });
});
