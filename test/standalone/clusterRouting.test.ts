/**
 * The cluster's routing policy on its own (pure logic, fake replicas): a session sticks to the
 * replica that served it while that replica is among the live ones, otherwise the least-loaded
 * replica with a free slot (this front end's in-flight plus what the last stats said the others
 * have), otherwise the least-loaded one. And the bounded session memory.
 */
import { describe, expect, it } from 'vitest';
import { chooseReplica, replicaLoad, RouteReason, type ReplicaView } from '../../src/entities/cluster/chooseReplica.js';
import { SessionAffinity } from '../../src/entities/cluster/SessionAffinity.js';

const replica = (worker: string, inFlight: number, stats?: ReplicaView['stats']): ReplicaView => ({ worker, inFlight, ...(stats ? { stats } : {}) });

describe('chooseReplica', () => {
  it('has nothing to choose without replicas', () => {
    expect(chooseReplica([])).toBeUndefined();
    expect(chooseReplica([], 'a')).toBeUndefined();
  });

  it("keeps a session on its last replica while it lives, even when it is the busier one", () => {
    const replicas = [replica('a', 4, { slots: 2, busySlots: 2, queueDepth: 3 }), replica('b', 0, { slots: 2, busySlots: 0, queueDepth: 0 })];
    expect(chooseReplica(replicas, 'a')).toEqual({ worker: 'a', reason: RouteReason.Affinity });
  });

  it('routes a session whose replica is gone by load', () => {
    const replicas = [replica('b', 1, { slots: 2, busySlots: 1, queueDepth: 0 }), replica('c', 0, { slots: 2, busySlots: 0, queueDepth: 0 })];
    expect(chooseReplica(replicas, 'a')).toEqual({ worker: 'c', reason: RouteReason.FreeSlot });
  });

  it('picks the least-loaded replica with a free slot, counting the others from the stats and its own in-flight now', () => {
    // a: the stats said 2 busy, 1 of them ours then; we have 3 in flight now: 1 other + 3 = 4 of 8 slots.
    // b: 0 of ours, stats 3 busy + 2 queued = 5 (all others) of 4 slots: full.
    // c: no stats yet, 1 in flight, 1 slot assumed: full.
    const replicas = [
      replica('a', 3, { slots: 8, busySlots: 2, queueDepth: 0, inFlightAtStats: 1 }),
      replica('b', 0, { slots: 4, busySlots: 3, queueDepth: 2 }),
      replica('c', 1),
    ];
    expect(replicas.map(replicaLoad)).toEqual([4, 5, 1]);
    expect(chooseReplica(replicas)).toEqual({ worker: 'a', reason: RouteReason.FreeSlot });
  });

  it('falls back to the least-loaded replica when none has a free slot', () => {
    const replicas = [replica('a', 2, { slots: 2, busySlots: 2, queueDepth: 4, inFlightAtStats: 2 }), replica('b', 1, { slots: 1, busySlots: 1, queueDepth: 1, inFlightAtStats: 0 })];
    // a: 4 others + 2 = 6; b: 2 others + 1 = 3.
    expect(chooseReplica(replicas)).toEqual({ worker: 'b', reason: RouteReason.LeastLoaded });
  });

  it('breaks ties by own in-flight, then by worker id, so that equal replicas are chosen stably', () => {
    const even = [replica('b', 0, { slots: 2, busySlots: 1, queueDepth: 0 }), replica('a', 1, { slots: 2, busySlots: 1, queueDepth: 0, inFlightAtStats: 1 })];
    // Both load 1: b has fewer of ours in flight.
    expect(chooseReplica(even)?.worker).toBe('b');
    expect(chooseReplica([replica('b', 0), replica('a', 0)])?.worker).toBe('a');
  });

  it('spreads a burst: each request counted in flight moves the next one to the other replica', () => {
    const inFlight = new Map([['a', 0], ['b', 0]]);
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const choice = chooseReplica([...inFlight].map(([worker, n]) => replica(worker, n, { slots: 2, busySlots: 0, queueDepth: 0 })));
      picks.push(choice?.worker ?? '?');
      inFlight.set(choice?.worker ?? '?', (inFlight.get(choice?.worker ?? '?') ?? 0) + 1);
    }
    expect(picks).toEqual(['a', 'b', 'a', 'b']);
  });
});

describe('chooseReplica and the replicas’ model state', () => {
  const idle = { slots: 2, busySlots: 0, queueDepth: 0 };
  it('skips a replica whose model is given up or not answering, even the session’s own', () => {
    const replicas = [replica('a', 0, { ...idle, state: 'failed' }), replica('b', 0, { ...idle, busySlots: 1, state: 'ready' }), replica('c', 0, { ...idle, state: 'unresponsive' })];
    expect(chooseReplica(replicas, 'a')).toEqual({ worker: 'b', reason: RouteReason.FreeSlot });
    expect(chooseReplica(replicas, 'c')?.worker).toBe('b');
  });

  it('uses a replica whose host is loading again only when none is ready, and a down one only when nothing else is left', () => {
    const loading = [replica('a', 0, { ...idle, state: 'loading' }), replica('b', 0, { ...idle, state: 'failed' })];
    expect(chooseReplica(loading)?.worker).toBe('a');
    expect(chooseReplica([...loading, replica('c', 0, { ...idle, busySlots: 2, state: 'ready' })])).toEqual({ worker: 'c', reason: RouteReason.LeastLoaded });
    // Every replica down: one of them still gets the request (and answers with its own typed error).
    expect(chooseReplica([replica('b', 0, { ...idle, state: 'failed' })])?.worker).toBe('b');
    // No stats yet: taken for ready.
    expect(chooseReplica([replica('a', 0, { ...idle, state: 'loading' }), replica('n', 0)])?.worker).toBe('n');
  });
});

describe('SessionAffinity', () => {
  it('remembers the last worker of a session, and nothing for no session', () => {
    const affinity = new SessionAffinity();
    affinity.record('s1', 'a');
    affinity.record('s1', 'b');
    affinity.record(undefined, 'a');
    expect(affinity.lastWorker('s1')).toBe('b');
    expect(affinity.lastWorker(undefined)).toBeUndefined();
    expect(affinity.size).toBe(1);
  });

  it('forgets the least recently routed session past its bound, and a lost worker’s sessions', () => {
    const affinity = new SessionAffinity({ maxSessions: 2 });
    affinity.record('s1', 'a');
    affinity.record('s2', 'b');
    affinity.record('s1', 'a'); // s1 routed again: s2 is now the oldest
    affinity.record('s3', 'a');
    expect([affinity.lastWorker('s1'), affinity.lastWorker('s2'), affinity.lastWorker('s3')]).toEqual(['a', undefined, 'a']);
    affinity.forgetWorker('a');
    expect(affinity.size).toBe(0);
  });
});
