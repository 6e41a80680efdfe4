/**
 * LoRA adapters and the TunerActor on the bench model (a 587 MiB F16 llama, 2048 wide) with a
 * generated rank-16 adapter, measured side by side in one run:
 *  1. evaluation: assistant tokens scored per second through the TunerActor (router → tuner →
 *     ModelActor `score`, tokens fed in chunks so an abort stops within one chunk) ÷ the same
 *     scoring with raw node-llama-cpp (`controlledEvaluate` of each whole example on a context made
 *     directly: same threads, batch size, examples and logits requests). Target ≥ 0.95. The losses
 *     of both sides are printed too: they must agree.
 *  2. generation with an adapter: greedy decode tokens/s on the adapter set's context ÷ on the
 *     base context, through the runtime and with raw node-llama-cpp (what LoRA costs per token).
 *  3. switching and memory: time for `applyAdapter` (validation and the new set's context), and
 *     the process's resident memory growth for that context, beside node-llama-cpp's estimate.
 * Rounds are interleaved; medians are reported.
 *
 *   npx tsx bench/tuner.ts [--rounds 3] [--threads 2] [--tokens 48]
 */
import { availableParallelism, cpus } from 'node:os';
import type { ControlledEvaluateInputItem, LlamaContext, Token } from 'node-llama-cpp';
import { pino } from 'pino';
import { ensureBenchAdapter, ensureBenchModel } from '../scripts/make-models.js';
import {
  type AdapterListing,
  type EvaluationResult,
  MessageRouter,
  ModelActor,
  ModelMessage,
  type TokenStreamEvent,
  type TrainingConversation,
  type TrainingDataset,
  type TrainingExample,
  TunerActor,
  TunerMessage,
} from '../src/index.js';
import { loadLlama } from './loadLlama.js';
import { PROMPTS } from './prompts.js';
import { flag, median } from './args.js';

const ROUNDS = flag('rounds', 3);
const THREADS = flag('threads', 2);
const TOKENS = flag('tokens', 48);
const CONTEXT_SIZE = 1024;
const BATCH_SIZE = 512;
const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const conversations: TrainingConversation[] = PROMPTS.map((prompt, i) => ({
  id: `b${i}`,
  messages: [
    { role: 'system', content: 'You are a storyteller who answers in a few sentences.' },
    { role: 'user', content: `Continue the story: ${prompt}` },
    {
      role: 'assistant',
      content: `${prompt}, there was a message that travelled from one actor to another. Each actor read it, ` +
        'changed a word or two, and passed it on, until the story came back to where it began, a little wiser than before.',
    },
  ],
}));

async function main(): Promise<void> {
  const [modelPath, adapterPath] = await Promise.all([ensureBenchModel(), ensureBenchAdapter()]);
  const llama = await loadLlama('prebuilt');
  console.log(`llama-actors tuner bench: ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, ${THREADS} threads, prebuilt binary, ${ROUNDS} rounds`);

  const router = new MessageRouter({ logger: pino({ level: 'warn' }), askTimeout: 600_000 });
  const actor = new ModelActor({
    modelPath,
    llama,
    threads: THREADS,
    slots: 1,
    contextSize: CONTEXT_SIZE,
    batchSize: BATCH_SIZE,
    // Each example is evaluated from scratch on both sides (no prefix reuse from the previous one).
    reuseKvCache: false,
    adapterContextIdleMs: 600_000,
  });
  const model = router.registerActor('model', actor, actor.actorOptions);
  await actor.load();
  const tuner = router.registerActor('tuner', new TunerActor({ model }), TunerActor.actorOptions);
  const dataset = await router.ask<TrainingDataset>(tuner, TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0 });
  const examples = dataset.train;
  const scored = examples.reduce((sum, e) => sum + e.assistantTokens, 0);
  console.log(`${examples.length} examples, ${dataset.counts.trainTokens} tokens, ${scored} assistant tokens scored`);

  // Raw node-llama-cpp: its own model instance and contexts, made directly.
  const rawModel = await llama.loadModel({ modelPath });
  const rawContext = (lora: boolean) =>
    rawModel.createContext({
      contextSize: CONTEXT_SIZE,
      sequences: 1,
      threads: THREADS,
      batchSize: BATCH_SIZE,
      flashAttention: false,
      ...(lora ? { lora: { adapters: [{ filePath: adapterPath }] } } : {}),
    });
  const rawBase = await rawContext(false);

  // 1. Evaluation.
  const runtimeRates: number[] = [];
  const rawRates: number[] = [];
  let runtimeLoss = 0;
  let rawLoss = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const sides = [
      async () => {
        const result = await router.ask<EvaluationResult>(tuner, TunerMessage.Evaluate, { examples, adapters: [] });
        runtimeRates.push(result.tokensPerSecond);
        runtimeLoss = result.averageLoss;
      },
      async () => {
        const { tokensPerSecond, averageLoss } = await rawEvaluate(rawBase, examples);
        rawRates.push(tokensPerSecond);
        rawLoss = averageLoss;
      },
    ];
    if (round % 2 === 1) sides.reverse();
    for (const side of sides) await side();
  }
  const evalRatio = median(runtimeRates) / median(rawRates);
  console.log('\n1. evaluation (assistant tokens scored per second)');
  console.log(`   runtime (TunerActor → ModelActor score): ${median(runtimeRates).toFixed(1)} tokens/s, loss ${runtimeLoss.toFixed(4)} nats`);
  console.log(`   raw node-llama-cpp controlledEvaluate:    ${median(rawRates).toFixed(1)} tokens/s, loss ${rawLoss.toFixed(4)} nats`);
  console.log(`   ratio runtime ÷ raw: ${evalRatio.toFixed(3)} (target ≥ 0.95)`);

  // 3 (first, since it creates the adapter context). Switching and memory.
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const appliedAt = performance.now();
  const listing = await router.ask<AdapterListing>(tuner, TunerMessage.ApplyAdapter, { path: adapterPath, scale: 1 });
  const applyMs = performance.now() - appliedAt;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  const estimate = listing.contexts.find((c) => c.isDefault)?.estimatedBytes ?? 0;

  // 2. Generation with and without the adapter.
  const rawLora = await rawContext(true);
  const rates: Record<'runtimeBase' | 'runtimeLora' | 'rawBase' | 'rawLora', number[]> = { runtimeBase: [], runtimeLora: [], rawBase: [], rawLora: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const prompt = PROMPTS[round % PROMPTS.length] as string;
    const sides: Array<() => Promise<void>> = [
      async () => void rates.runtimeBase.push(await runtimeDecode(router, model, prompt, [])),
      async () => void rates.runtimeLora.push(await runtimeDecode(router, model, prompt, undefined)),
      async () => void rates.rawBase.push(await rawDecode(rawBase, prompt)),
      async () => void rates.rawLora.push(await rawDecode(rawLora, prompt)),
    ];
    if (round % 2 === 1) sides.reverse();
    for (const side of sides) await side();
  }
  const m = (key: keyof typeof rates): number => median(rates[key]);
  console.log(`\n2. greedy decode, ${TOKENS} tokens (tokens/s)`);
  console.log(`   runtime: base ${m('runtimeBase').toFixed(1)}, with adapter ${m('runtimeLora').toFixed(1)}, ratio ${(m('runtimeLora') / m('runtimeBase')).toFixed(3)}`);
  console.log(`   raw:     base ${m('rawBase').toFixed(1)}, with adapter ${m('rawLora').toFixed(1)}, ratio ${(m('rawLora') / m('rawBase')).toFixed(3)}`);
  console.log(`   runtime ÷ raw with the adapter: ${(m('runtimeLora') / m('rawLora')).toFixed(3)}`);
  console.log('\n3. applyAdapter (validate, create the adapter set’s context, switch)');
  console.log(`   ${applyMs.toFixed(0)} ms; resident memory +${MiB(rssGrowth)} (node-llama-cpp's estimate of one context: ${MiB(estimate)}; adapter file ${MiB((await import('node:fs')).statSync(adapterPath).size)})`);

  await rawLora.dispose();
  await rawBase.dispose();
  await rawModel.dispose();
  await router.dispose();
  await llama.dispose();
}

/** Scores every example's assistant tokens with `controlledEvaluate` in one call per example. */
async function rawEvaluate(context: LlamaContext, examples: TrainingExample[]): Promise<{ tokensPerSecond: number; averageLoss: number }> {
  const sequence = context.getSequence();
  let sum = 0;
  let count = 0;
  const started = performance.now();
  for (const example of examples) {
    await sequence.clearHistory();
    const scored = new Set<number>();
    for (const [start, end] of example.assistantSpans) for (let i = start; i < end; i++) scored.add(i);
    const items: ControlledEvaluateInputItem[] = example.tokens.map((token, i) =>
      scored.has(i + 1)
        ? [token as Token, { generateNext: { logits: { filter: { tokens: [example.tokens[i + 1] as Token], includeTop: 1 } }, totalLogitWeight: true, options: { temperature: 0 } } }]
        : (token as Token),
    );
    const outputs = await sequence.controlledEvaluate(items);
    for (const [i, output] of outputs.entries()) {
      if (!output || !scored.has(i + 1)) continue;
      const logits = output.next.logits as Map<Token, number>;
      const top = Math.max(...logits.values());
      sum -= (logits.get(example.tokens[i + 1] as Token) as number) - top - Math.log(output.next.totalLogitWeight as number);
      count++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  sequence.dispose();
  return { tokensPerSecond: count / seconds, averageLoss: sum / count };
}

/** Decode rate of one greedy stream through the runtime: tokens after the first ÷ time since the first. */
async function runtimeDecode(router: MessageRouter, model: string, prompt: string, adapters: [] | undefined): Promise<number> {
  const times: number[] = [];
  await router.streamAsk(model, ModelMessage.Generate, { prompt, params: { maxTokens: TOKENS, temperature: 0 }, ...(adapters ? { adapters } : {}) }, {
    onChunk: (event: TokenStreamEvent) => {
      if (event.type === 'token') times.push(performance.now());
    },
  });
  return ((times.length - 1) * 1000) / ((times.at(-1) ?? 0) - (times[0] ?? 0));
}

/** The same with raw node-llama-cpp: greedy `evaluate` on a fresh sequence. */
async function rawDecode(context: LlamaContext, prompt: string): Promise<number> {
  const sequence = context.getSequence();
  const times: number[] = [];
  for await (const _token of sequence.evaluate(context.model.tokenize(prompt), { temperature: 0, topK: 40, topP: 0.95, minP: 0.05 })) {
    times.push(performance.now());
    if (times.length >= TOKENS) break;
  }
  sequence.dispose();
  return ((times.length - 1) * 1000) / ((times.at(-1) ?? 0) - (times[0] ?? 0));
}

await main();
