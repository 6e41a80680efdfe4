/**
 * The README's tuner example, runnable: `npx tsx examples/tuner.ts` (it generates the tiny model and
 * its adapters under `models/` on first use). Tested by test/model/examples.test.ts.
 */
import { pino } from 'pino';
import { ensureTinyAdapters, ensureTinyModel } from '../scripts/make-models.js';
import {
  MessageRouter,
  ModelActor,
  ModelMessage,
  modelProtocol,
  type TrainingConversation,
  TunerActor,
  TunerMessage,
  tunerProtocol,
} from '../src/index.js';

const conversations: TrainingConversation[] = ['actors', 'models', 'tokens', 'sessions', 'streams'].map((topic, i) => ({
  id: `q${i}`,
  messages: [
    { role: 'system', content: 'Answer in one sentence.' },
    { role: 'user', content: `What are ${topic}?` },
    { role: 'assistant', content: `The ${topic} are part of the actor model.` },
  ],
}));

/** Runs the example, printing through `print`; options let a test share its `Llama`. */
export async function main(print: (text: string) => void = (t) => process.stdout.write(t), options: { llama?: import('node-llama-cpp').Llama } = {}) {
  const [modelPath, adapters] = await Promise.all([ensureTinyModel(), ensureTinyAdapters()]);
  await using router = new MessageRouter({ logger: pino({ level: 'warn' }) });
  const model = new ModelActor({ modelPath, slots: 2, contextSize: 256, ...(options.llama ? { llama: options.llama } : {}) });
  const llm = router.ref(router.registerActor('model/tiny', model, model.actorOptions), modelProtocol);
  const tuner = router.ref(router.registerActor('tuner/tiny', new TunerActor({ model: llm.address }), TunerActor.actorOptions), tunerProtocol);
  const timeout = 60_000;

  // Adapters: validated against the base model, then applied without reloading it.
  const listing = await tuner.ask(TunerMessage.ApplyAdapter, { path: adapters.valid, scale: 1 }, { timeout });
  print(`applied: ${listing.applied.length} adapter, contexts: ${listing.contexts.length}\n`);
  const request = { prompt: 'The actor model', params: { maxTokens: 8, temperature: 0 } };
  const adapted = await llm.ask(ModelMessage.Generate, request, { timeout });
  const base = await llm.ask(ModelMessage.Generate, { ...request, adapters: [] }, { timeout });
  print(`adapter changes the output: ${adapted.text !== base.text}\n`);

  // Training data: chat template, tokens, a seeded split.
  const dataset = await tuner.ask(TunerMessage.PrepareTrainingData, { conversations, validationSplit: 0.4, seed: 7 }, { timeout });
  print(`train ${dataset.counts.trainExamples}, validation ${dataset.counts.validationExamples}\n`);

  // Evaluation, streamed: one progress event per example, the result on `done`.
  for (const adapterSet of [[], [{ path: adapters.valid }]]) {
    const result = await tuner.streamAsk(TunerMessage.Evaluate, { examples: dataset.validation, adapters: adapterSet }, {
      timeout,
      onChunk: (event) => {
        if (event.type === 'progress' && event.data !== undefined && 'completed' in event.data) print(`  ${event.data.completed}/${event.data.total}\n`);
      },
    });
    const metrics = result.data;
    if (metrics === undefined) throw new Error('the evaluation ended without a result');
    print(`${adapterSet.length === 0 ? 'base' : 'adapter'}: ${metrics.totalTokens} tokens, loss ${metrics.averageLoss.toFixed(2)} nats, perplexity ${metrics.perplexity.toFixed(0)}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
