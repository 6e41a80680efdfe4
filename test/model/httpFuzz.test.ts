import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyAdapters } from '../../scripts/make-models.js';
import { startTestServer, type TestServer, chatStillServes } from './helpers/testServer.js';
import { exchange } from './reliability/rawHttp.js';
import { fuzzRequest } from './reliability/requestArbitraries.js';
import { responseProblem } from './reliability/responseCheck.js';

/**
 * Property-based fuzzing of every HTTP route in its bounded `npm test` form (the soak runs the same
 * generators for minutes): fast-check bodies, types, numbers, unicode, sizes, encodings, headers,
 * methods and paths. Every answer must be a documented status with a coded JSON error, nothing may
 * hang, and the server must still serve afterwards with every slot free. Seeded: replay a failure
 * with `FUZZ_SEED=<seed> FUZZ_RUNS=<runs>`.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const HANG_MS = 15_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ slots: 2 }, { limits: { headersTimeoutMs: 2_000, requestTimeoutMs: 4_000 } });
  await server.models.ensureTuner('tiny');
  for (const id of ['s1', 's2']) await server.sessions.create({ id, model: 'tiny', params: { maxTokens: 2 } });
});
afterAll(async () => {
  await server?.dispose();
});

describe('HTTP fuzzing', () => {
  it('every fuzzed request to every route gets a documented status and a coded error; the server keeps serving', async () => {
    const context = { port: server.port, modelsDir: server.modelsDir, adapters: await ensureTinyAdapters(), sessionIds: ['s1', 's2'] };
    const requests = fc.sample(fuzzRequest(context), { seed: SEED, numRuns: RUNS });
    const tally = new Map<string, number>();
    const problems: string[] = [];
    for (let i = 0; i < requests.length; i += 4) {
      await Promise.all(
        requests.slice(i, i + 4).map(async (request, j) => {
          const response = await exchange(server.port, request, { timeoutMs: HANG_MS });
          const key = response.outcome === 'answered' ? String(response.status) : response.outcome;
          tally.set(key, (tally.get(key) ?? 0) + 1);
          const problem = responseProblem(request.method, request.route, response);
          if (problem) problems.push(`#${i + j} ${request.method} ${request.target.slice(0, 100)}: ${problem}`);
        }),
      );
    }
    console.log(`httpFuzz: seed ${SEED}, ${requests.length} requests (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}); by status ${JSON.stringify(Object.fromEntries([...tally].sort()))}`);
    expect(problems).toEqual([]);
    expect(tally.get('timeout') ?? 0).toBe(0);

    const ok = await chatStillServes(server.url);
    expect(ok.status).toBe(200);
    await expect.poll(async () => (await server.status()).busySlots, { timeout: 10_000 }).toBe(0);
    expect((await server.status()).queueDepth).toBe(0);
  });
});
