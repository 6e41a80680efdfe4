import { describe, expect, it } from 'vitest';
import { SlotScheduler } from '../../src/actors/ModelActor/SlotScheduler.js';
import { ErrorCode, ModelErrorCode } from '../../src/index.js';
import { flush } from './fixtures.js';

describe('SlotScheduler (ModelActor admission)', () => {
  it('hands out free slots at once, then queues, then refuses with QUEUE_FULL naming the numbers', async () => {
    const scheduler = new SlotScheduler(['s1', 's2'], 2);
    await expect(scheduler.acquire('a')).resolves.toBe('s2');
    await expect(scheduler.acquire('a')).resolves.toBe('s1');
    const queued = [scheduler.acquire('a'), scheduler.acquire('b')];
    expect(scheduler.queueDepth).toBe(2);
    await expect(scheduler.acquire('c')).rejects.toMatchObject({
      code: ModelErrorCode.QueueFull,
      message: 'queue full: 2 waiting, limit 2 (all 2 slots busy)',
    });
    scheduler.release('s1');
    scheduler.release('s2');
    await expect(Promise.all(queued)).resolves.toEqual(['s1', 's2']);
    expect(scheduler.busy).toBe(2);
  });

  it('serves keys round-robin, FIFO within a key', async () => {
    const scheduler = new SlotScheduler(['only'], 10);
    await scheduler.acquire('x');
    const order: string[] = [];
    const wait = (key: string, n: number) => scheduler.acquire(key).then(() => order.push(`${key}${n}`));
    const all = [wait('a', 1), wait('a', 2), wait('a', 3), wait('b', 1), wait('c', 1), wait('b', 2)];
    for (let i = 0; i < all.length; i++) {
      scheduler.release('only');
      await flush();
    }
    await Promise.all(all);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  it('an aborted waiter leaves the queue and frees its place; rejectAll empties it', async () => {
    const scheduler = new SlotScheduler(['only'], 1);
    await scheduler.acquire('x');
    const controller = new AbortController();
    const abandoned = scheduler.acquire('a', controller.signal);
    controller.abort();
    await expect(abandoned).rejects.toMatchObject({ code: ErrorCode.Aborted });
    expect(scheduler.queueDepth).toBe(0);
    const next = scheduler.acquire('b');
    scheduler.rejectAll(new Error('unloading'));
    await expect(next).rejects.toThrow('unloading');
    await expect(scheduler.acquire('c', AbortSignal.abort())).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
});
