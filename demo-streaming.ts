/**
 * Streaming demo: `npm run demo` (or `npx tsx demo-streaming.ts`, or `bun demo-streaming.ts`).
 *
 * A ModelActor owns a GGUF model at `@(stream-model)`; tokens stream back through
 * `router.streamAsk`, then four requests share the model's parallel sequences at once, and one
 * stream is cancelled half-way.
 *
 * By default the model is the project's generated demo model, a toy: a bigram model of the corpus
 * in scripts/corpus/ dressed as a llama GGUF, so it writes legible but meaningless English. Point
 * the demo at a real GGUF with `--model PATH` or `LLAMA_ACTORS_MODEL=PATH`.
 */
import { parseArgs } from 'node:util';
import { ensureDemoModel } from './scripts/make-models.js';
import {
  type GenerateRequest,
  MessageRouter,
  ModelActor,
  ModelMessage,
} from './src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'max-tokens': { type: 'string', default: '60' },
    slots: { type: 'string', default: '4' },
  },
});
const customModel = values.model ?? process.env.LLAMA_ACTORS_MODEL;
const maxTokens = Number(values['max-tokens']);
const modelPath = customModel ?? (await ensureDemoModel());

console.log('Real-time streaming demo\n');
await using router = new MessageRouter();
const model = new ModelActor({
  modelPath,
  slots: Number(values.slots),
  contextSize: 2048,
  onLoadProgress: (progress) => {
    // A progress line that redraws itself on a terminal; just the end of it in a log.
    if (process.stdout.isTTY) process.stdout.write(`\rLoading ${modelPath}: ${(progress * 100).toFixed(0)}%`);
    else if (progress === 1) process.stdout.write(`Loaded ${modelPath}`);
  },
});
const address = router.registerActor('stream-model', model, model.actorOptions);
const info = await model.load();
console.log(
  `\n✓ Model published: ${address} (${info.architecture}, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `${info.slots} slots, ${info.threads} thread${info.threads === 1 ? '' : 's'}, chat template ${info.chatTemplate})` +
    (customModel ? '' : '\n  (the generated demo model: a bigram toy that writes corpus-like English; use --model for a real GGUF)'),
);

const question = 'Explain how actors work in distributed systems in 2 sentences.';
// A real model answers the question through its chat template; the bigram toy just continues text.
const request = (prompt: string): GenerateRequest =>
  customModel
    ? { messages: [{ role: 'user', content: prompt }], params: { maxTokens, temperature: 0.7 } }
    : { prompt: 'Actors', params: { maxTokens, temperature: 0.7, seed: 7 } };

console.log(`\nQuestion: "${question}"\n\nResponse (streaming):\n---`);
if (!customModel) process.stdout.write('Actors');
const result = await router.streamAsk(address, ModelMessage.Generate, request(question), {
  onChunk: (event) => {
    if (event.type === 'token') process.stdout.write(event.content ?? '');
    else if (event.type === 'error') process.stdout.write(`\n[error ${event.code}] ${event.error}`);
  },
  timeout: 120_000,
});
console.log('\n---\n');
console.log('Statistics:');
console.log(`  tokens:              ${result.tokenCount}`);
console.log(`  time to first token: ${result.timeToFirstTokenMs?.toFixed(1)} ms`);
console.log(`  tokens/s:            ${result.tokensPerSecond.toFixed(1)}`);
console.log(`  finish reason:       ${result.finishReason}\n`);

console.log(`Four requests at once on ${info.slots} slots (continuous batching), one cancelled after 5 tokens:`);
const started = performance.now();
const streams = [0, 1, 2, 3].map((i) => router.stream(address, ModelMessage.Generate, request(`${question} (${i})`)));
let cancelledAfter = 0;
const cancelled = streams[3];
if (cancelled) {
  cancelled.subscribe((event) => {
    if (event.type === 'token' && ++cancelledAfter === 5) cancelled.cancel();
  });
}
const outcomes = await Promise.allSettled(streams.map((stream) => stream.collectWithMetadata()));
const seconds = (performance.now() - started) / 1000;
let total = 0;
for (const [i, outcome] of outcomes.entries()) {
  if (outcome.status === 'fulfilled') {
    total += outcome.value.tokenCount;
    console.log(`  #${i}: ${outcome.value.tokenCount} tokens, ${outcome.value.tokensPerSecond.toFixed(0)} tokens/s, ${outcome.value.finishReason}`);
  } else {
    const stats = streams[i]?.stats;
    total += stats?.tokenCount ?? 0;
    console.log(`  #${i}: ${(outcome.reason as { code: string }).code} after ${stats?.tokenCount} tokens`);
  }
}
console.log(`  aggregate: ${total} tokens in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)} tokens/s`);
const status = await router.ask<{ busySlots: number; queueDepth: number }>(address, ModelMessage.Status, null);
console.log(`  afterwards: ${status.busySlots} busy slots, ${status.queueDepth} queued`);
