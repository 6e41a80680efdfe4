import { describe, expect, it } from 'vitest';
import { decodeFrameBatch, FrameBatcher, v8BatchCodec } from '../../src/messaging/transport/FrameBatcher.js';
import { ManualClock } from './fixtures.js';

/** A batcher on a manual clock whose end-of-turn callbacks run when the test says. */
function batcher(options: { coalesceMs?: number; maxBatchBytes?: number; fullBatch?: number } = {}) {
  const clock = new ManualClock();
  const turn: Array<() => void> = [];
  const writes: unknown[][] = [];
  const bad: unknown[] = [];
  const frames = new FrameBatcher(
    (batch) => {
      const decoded: unknown[] = [];
      decodeFrameBatch(batch, (frame) => decoded.push(frame), (error) => bad.push(error));
      writes.push(decoded);
    },
    v8BatchCodec,
    { clock, defer: (callback) => void turn.push(callback), ...options },
  );
  const endTurn = (): void => {
    for (const callback of turn.splice(0)) callback();
  };
  return { clock, frames, writes, bad, endTurn };
}

describe('FrameBatcher', () => {
  it('after a quiet spell, the frames of one turn go together at its end', () => {
    const { frames, writes, endTurn } = batcher();
    frames.push({ n: 1 });
    frames.push({ n: 2 });
    expect(writes).toEqual([]);
    endTurn();
    expect(writes).toEqual([[{ n: 1 }, { n: 2 }]]);
  });

  it('frames that follow a write sooner than coalesceMs wait for the interval and go as one batch', () => {
    const { clock, frames, writes, endTurn } = batcher({ coalesceMs: 1 });
    frames.push({ n: 1 });
    endTurn();
    clock.advance(0.2);
    frames.push({ n: 2 });
    endTurn();
    clock.advance(0.3);
    frames.push({ n: 3 });
    endTurn();
    expect(writes).toEqual([[{ n: 1 }]]);
    clock.advance(0.49);
    expect(writes).toHaveLength(1);
    clock.advance(0.01);
    expect(writes).toEqual([[{ n: 1 }], [{ n: 2 }, { n: 3 }]]);
    // A quiet spell of the interval or more: the next frame goes at the end of its turn again.
    clock.advance(5);
    frames.push({ n: 4 });
    endTurn();
    expect(writes.at(-1)).toEqual([{ n: 4 }]);
  });

  it('an urgent frame (a credit, an ask) goes at the end of its turn with the chunks queued before it, whatever the interval', () => {
    const { clock, frames, writes, endTurn } = batcher({ coalesceMs: 1 });
    frames.push({ n: 1 });
    endTurn();
    clock.advance(0.1);
    frames.push({ chunk: 2 });
    endTurn();
    expect(writes).toEqual([[{ n: 1 }]]);
    frames.push({ credit: 3 }, true);
    endTurn();
    expect(writes).toEqual([[{ n: 1 }], [{ chunk: 2 }, { credit: 3 }]]);
    expect(clock.pending).toBe(0);
  });

  it('a batch of fullBatch frames goes at the end of its turn instead of waiting for the interval', () => {
    const { clock, frames, writes, endTurn } = batcher({ coalesceMs: 1, fullBatch: 3 });
    frames.push({ n: 0 });
    endTurn();
    for (const n of [1, 2]) frames.push({ n });
    endTurn();
    expect(writes).toHaveLength(1);
    frames.push({ n: 3 });
    endTurn();
    expect(writes).toEqual([[{ n: 0 }], [{ n: 1 }, { n: 2 }, { n: 3 }]]);
    expect(clock.pending).toBe(0);
  });

  it('coalesceMs 0 writes once per turn', () => {
    const { frames, writes, endTurn } = batcher({ coalesceMs: 0 });
    for (const n of [1, 2, 3]) {
      frames.push({ n });
      frames.push({ n: n * 10 });
      endTurn();
    }
    expect(writes).toEqual([[{ n: 1 }, { n: 10 }], [{ n: 2 }, { n: 20 }], [{ n: 3 }, { n: 30 }]]);
  });

  it('a frame that cannot be cloned throws to the sender and queues nothing; structured values survive', () => {
    const { frames, writes, endTurn } = batcher();
    expect(() => frames.push({ f: () => 1 })).toThrow();
    expect(frames.pending).toBe(0);
    const value = { undefinedField: undefined, map: new Map([[1, 'a']]), big: 12n, nested: [{ at: new Date(0) }] };
    frames.push(value);
    endTurn();
    expect(writes).toEqual([[value]]);
  });

  it('a batch never grows past maxBatchBytes: what is queued goes first when a frame would take it over, and a batch that reaches it goes at once', () => {
    const { frames, writes, endTurn } = batcher({ maxBatchBytes: 200 });
    frames.push({ text: 'x'.repeat(50) });
    frames.push({ text: 'x'.repeat(60) });
    expect(writes).toHaveLength(0);
    frames.push({ text: 'y'.repeat(120) });
    expect(writes).toEqual([[{ text: 'x'.repeat(50) }, { text: 'x'.repeat(60) }]]);
    frames.push({ text: 'z'.repeat(300) });
    expect(writes).toEqual([[{ text: 'x'.repeat(50) }, { text: 'x'.repeat(60) }], [{ text: 'y'.repeat(120) }], [{ text: 'z'.repeat(300) }]]);
    endTurn();
    expect(writes).toHaveLength(3);
  });

  it('stop drops what is queued and writes nothing more; flush writes at once', () => {
    const { clock, frames, writes, endTurn } = batcher();
    frames.push({ n: 1 });
    frames.flush();
    expect(writes).toEqual([[{ n: 1 }]]);
    frames.push({ n: 2 });
    frames.stop();
    clock.advance(10);
    endTurn();
    frames.push({ n: 3 });
    endTurn();
    expect(writes).toEqual([[{ n: 1 }]]);
    expect(clock.pending).toBe(0);
  });

  it('decodeFrameBatch skips a frame it cannot read and says so; a batch whose lengths do not add up ends there', () => {
    const { frames, writes, endTurn } = batcher();
    let raw: Buffer | undefined;
    const capture = new FrameBatcher((batch) => void (raw = batch), v8BatchCodec, { defer: () => undefined });
    capture.push({ n: 1 });
    capture.push({ n: 2 });
    capture.flush();
    expect(raw).toBeDefined();
    const damaged = Buffer.from(raw as Buffer);
    damaged[4] = 0x00; // the first frame's v8 header byte
    const decoded: unknown[] = [];
    const errors: unknown[] = [];
    decodeFrameBatch(damaged, (frame) => decoded.push(frame), (error) => errors.push(error));
    expect(decoded).toEqual([{ n: 2 }]);
    expect(errors).toHaveLength(1);
    const truncated = (raw as Buffer).subarray(0, (raw as Buffer).length - 2);
    decoded.length = 0;
    errors.length = 0;
    decodeFrameBatch(truncated, (frame) => decoded.push(frame), (error) => errors.push(error));
    expect(decoded).toEqual([{ n: 1 }]);
    expect(String(errors[0])).toMatch(/overruns its batch/);
    frames.push({ n: 3 });
    endTurn();
    expect(writes).toEqual([[{ n: 3 }]]);
  });
});
