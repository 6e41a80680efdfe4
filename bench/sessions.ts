/**
 * KV-cache reuse across turns, measured in one run: time to first token (TTFT) of a turn that
 * follows ~1,500 tokens of history, divided by the TTFT of a first turn, with the ModelActor's KV
 * reuse on and off. Off is also what a session pays when it lost its slot to others (more sessions
 * than slots): its history is evaluated again.
 *
 * Both cases are set up side by side and measured in interleaved rounds (the order flips every
 * round), with the other processes' CPU use printed.
 *
 *   npx tsx bench/sessions.ts [--model bench|tiny|PATH] [--rounds 3] [--history 1500] [--threads N]
 */
import { parseArgs } from 'node:util';
import { getLlama } from 'node-llama-cpp';
import { pino } from 'pino';
import { ensureBenchModel, ensureTinyModel } from '../scripts/make-models.js';
import { MemoryStore } from '../src/entities/store/MemoryStore.js';
import {
  address,
  type InferenceResult,
  LocalLlamaProvider,
  MessageRouter,
  ModelManager,
  ModelMessage,
  type SessionExport,
  SessionManager,
  SessionMessage,
  type Turn,
} from '../src/index.js';
import { median } from './args.js';
import { ForeignLoad } from './ForeignLoad.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'bench' },
    rounds: { type: 'string', default: '3' },
    history: { type: 'string', default: '1500' },
    threads: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const historyTokens = Number(values.history);
const threads = values.threads ? Number(values.threads) : undefined;
const modelPath =
  values.model === 'bench' ? await ensureBenchModel() : values.model === 'tiny' ? await ensureTinyModel() : (values.model as string);

const llama = await getLlama({ gpu: false, build: 'never' });
const WORDS = 'the actor reads a message from its mailbox and answers with a stream of tokens while other sessions wait'.split(' ');

/** Alternating turns of about `tokens` tokens in all, counted with the model's own tokenizer. */
async function syntheticTurns(tokens: number, count: (text: string) => Promise<number>): Promise<Turn[]> {
  const turns: Turn[] = [];
  let total = 0;
  for (let i = 0; total < tokens || turns.length % 2 === 1; i++) {
    const content = Array.from({ length: 40 }, (_, j) => WORDS[(i * 7 + j) % WORDS.length]).join(' ');
    turns.push({ role: i % 2 === 0 ? 'user' : 'assistant', content, at: 0 });
    total += (await count(content)) + 5; // the chat template adds a few tokens per turn
  }
  return turns;
}

async function setup(reuseKvCache: boolean) {
  const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 600_000 });
  const store = new MemoryStore();
  const models = new ModelManager({ router, store, providers: [new LocalLlamaProvider({ llama })] });
  await models.publishProvider({ id: 'provider', kind: 'local-llama' });
  await models.publishModel({
    id: 'model',
    provider: address('provider'),
    path: modelPath,
    load: { slots: 2, ...(threads === undefined ? {} : { threads }), contextSize: 4096, reuseKvCache },
  });
  const sessions = new SessionManager({ router, store, models });
  const model = await models.ensureStarted('model');
  const count = async (text: string) =>
    (await router.ask<{ tokens: number[] }>(model, ModelMessage.Tokenize, { text })).tokens.length;
  const history = await syntheticTurns(historyTokens, count);
  const turn = async (session: string, message: string) => {
    const result = await router.ask<InferenceResult>(session, SessionMessage.Inference, {
      message,
      params: { maxTokens: 2, temperature: 0 },
    });
    return result;
  };

  const first: number[] = [];
  const continued: number[] = [];
  let promptTokens = 0;
  let evaluated = 0;
  let firstEvaluated = 0;
  const round = async (round: number) => {
    const fresh = await sessions.create({ model: 'model' });
    // The same message as the turn after the history, so both evaluate the same new text.
    const opening = await turn(fresh, `and now round ${round}`);
    first.push(opening.usage?.timeToFirstTokenMs ?? Number.NaN);
    firstEvaluated = (opening.usage?.promptTokens ?? 0) - (opening.usage?.cachedPromptTokens ?? 0);

    const template = await sessions.create({ model: 'model' });
    const exported = await router.ask<SessionExport>(template, SessionMessage.Export, null);
    const long = await sessions.import({ ...exported, session: { ...exported.session, turns: history } }, { id: `long-${round}-${reuseKvCache}` });
    await turn(long, 'warm up'); // evaluates the history once; with reuse, the slot keeps it
    const result = await turn(long, `and now round ${round}`);
    continued.push(result.usage?.timeToFirstTokenMs ?? Number.NaN);
    promptTokens = result.usage?.promptTokens ?? 0;
    evaluated = (result.usage?.promptTokens ?? 0) - (result.usage?.cachedPromptTokens ?? 0);
  };
  const summary = () => ({ first: median(first), continued: median(continued), promptTokens, evaluated, firstEvaluated });
  return { round, summary, close: () => router.dispose() };
}

console.log(`sessions benchmark: ${modelPath}, ${threads ?? 'default'} thread(s), ${rounds} rounds (median), ~${historyTokens} tokens of history`);
const load = new ForeignLoad();
const cases = { on: await setup(true), off: await setup(false) };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? [cases.on, cases.off] : [cases.off, cases.on];
  for (const side of order) await load.measure(() => side.round(round));
}
const on = cases.on.summary();
const off = cases.off.summary();
await cases.on.close();
await cases.off.close();
console.log(`other processes kept ${load.coresText} cores busy during the measurements`);
console.table({
  'KV reuse on': {
    'first turn TTFT (ms)': +on.first.toFixed(1),
    'first turn evaluated': on.firstEvaluated,
    'turn after history TTFT (ms)': +on.continued.toFixed(1),
    'prompt tokens': on.promptTokens,
    'evaluated tokens': on.evaluated,
    ratio: +(on.continued / on.first).toFixed(2),
  },
  'KV reuse off': {
    'first turn TTFT (ms)': +off.first.toFixed(1),
    'first turn evaluated': off.firstEvaluated,
    'turn after history TTFT (ms)': +off.continued.toFixed(1),
    'prompt tokens': off.promptTokens,
    'evaluated tokens': off.evaluated,
    ratio: +(off.continued / off.first).toFixed(2),
  },
});
// A first turn normally evaluates its whole prompt: that is the "off" run's first turn. In the "on"
// run, new sessions also find the chat template's opening tokens in a slot another session used,
// so their first turn evaluates even less; both baselines are printed.
console.log(
  `TTFT after history ÷ a first turn evaluated in full (${off.firstEvaluated} tokens): ${(on.continued / off.first).toFixed(2)} with KV reuse (target ≤ 1.5), ` +
    `${(off.continued / off.first).toFixed(2)} without; ÷ a first turn that reused another session's prefix (${on.firstEvaluated} tokens): ${(on.continued / on.first).toFixed(2)}`,
);
await llama.dispose();
