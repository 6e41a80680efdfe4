/**
 * Streaming demo: `npm run demo` (or `npx tsx demo-streaming.ts`, or `bun demo-streaming.ts`).
 *
 * The seed's flow for real: publish a provider, a model and a session as entities, stream an
 * answer token by token through `router.streamAsk` to the SessionActor (which asks the ModelActor
 * that owns the GGUF model), print the statistics, then show what the actor model buys: a second
 * turn that reuses the KV cache, and four sessions sharing the model's slots at once.
 *
 * By default the model is the project's generated demo model, a toy: a bigram model of the corpus
 * in scripts/corpus/ dressed as a llama GGUF, so it writes legible but meaningless English. Point
 * the demo at a real GGUF with `--model PATH` or `LLAMA_ACTORS_MODEL=PATH`; keep the conversation
 * on disk with `--data-dir DIR`.
 */
import { parseArgs } from 'node:util';
import { ensureDemoModel } from './scripts/make-models.js';
import {
  FileStore,
  MemoryStore,
  MessageRouter,
  ModelManager,
  ModelMessage,
  SessionManager,
  SessionMessage,
  sessionProtocol,
  type Store,
} from './src/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'data-dir': { type: 'string' },
    'max-tokens': { type: 'string', default: '60' },
    slots: { type: 'string', default: '4' },
  },
});
const customModel = values.model ?? process.env.LLAMA_ACTORS_MODEL;
const maxTokens = Number(values['max-tokens']);
const modelPath = customModel ?? (await ensureDemoModel());

console.log('🌊 Real-time streaming demo\n');
await using router = new MessageRouter();
await using store: Store = values['data-dir'] ? new FileStore({ dataDir: values['data-dir'] }) : new MemoryStore();
const models = new ModelManager({ router, store });
const sessions = new SessionManager({ router, store, models });

console.log('📝 Setting up provider and model...');
const provider = await models.publishProvider({ id: 'stream-provider', kind: 'local-llama' });
console.log(`✓ Provider published: ${provider}`);
const model = await models.publishModel({
  id: 'stream-model',
  provider,
  path: modelPath,
  load: { slots: Number(values.slots), contextSize: 2048 },
});
console.log(`✓ Model published: ${model}`);

// A typed ref on the model's actor (started now): every reply is typed from modelProtocol.
const llm = await models.ref(model);
const info = await llm.ask(ModelMessage.Info, null, { timeout: 300_000 });
console.log(
  `✓ ModelActor running at ${model}: ${info.architecture}, ${(info.sizeBytes / 2 ** 20).toFixed(1)} MiB, ` +
    `${info.slots} slots, ${info.threads} thread${info.threads === 1 ? '' : 's'}, ${info.chatTemplate} chat template`,
);
if (!customModel) {
  console.log('  (the generated demo model: a bigram toy that writes corpus-like English; --model PATH for a real GGUF)');
}

console.log('\n📝 Creating session...');
const sessionId = 'stream-session';
const session = (await sessions.list()).some((s) => s.id === sessionId)
  ? await sessions.load(sessionId)
  : await sessions.create({ id: sessionId, model, systemPrompt: 'You are a concise assistant.' });
console.log(`✓ Session created: ${session}\n`);

const question = 'Explain how actors work in distributed systems in 2 sentences.';
console.log(`💬 Streaming inference request...\nQuestion: "${question}"\n\nResponse (streaming):\n---`);
const result = await router.streamAsk(
  session,
  SessionMessage.Inference,
  { message: question, params: { maxTokens, temperature: 0.7, seed: 7 } },
  {
    onChunk: (event) => {
      if (event.type === 'token') process.stdout.write(event.content ?? '');
      else if (event.type === 'error') process.stdout.write(`\n[error ${event.code}] ${event.error}`);
    },
    timeout: 300_000,
  },
);
console.log('\n---\n');
console.log(`✓ Streaming complete! Received ${result.tokenCount} token chunks\n`);
console.log('📊 Streaming Statistics:');
console.log(`  • Total tokens:        ${result.tokenCount}`);
console.log(`  • Time to first token: ${result.timeToFirstTokenMs?.toFixed(1)} ms`);
console.log(`  • Tokens/s:            ${result.tokensPerSecond.toFixed(1)}`);
console.log(`  • Finish reason:       ${result.finishReason}`);
console.log(`  • Response length:     ${result.text.length} chars`);

const chat = router.ref(session, sessionProtocol);
const followUp = await chat.ask(
  SessionMessage.Inference,
  { message: 'And why does that help?', params: { maxTokens: 20, temperature: 0.7, seed: 8 } },
  { timeout: 300_000 },
);
console.log(
  `\n🔁 Second turn: ${followUp.usage?.promptTokens} prompt tokens, ${followUp.usage?.cachedPromptTokens} reused from the KV cache, ` +
    `first token after ${followUp.usage?.timeToFirstTokenMs?.toFixed(1)} ms`,
);

console.log(`\n👥 Four sessions at once on ${info.slots} slots (continuous batching), one cancelled after 5 tokens:`);
const others = await Promise.all([0, 1, 2, 3].map(() => sessions.create({ model })));
const started = performance.now();
const streams = others.map((other) =>
  router.ref(other, sessionProtocol).stream(SessionMessage.Inference, { message: question, params: { maxTokens, temperature: 0.7 } }),
);
const cancelled = streams[3];
let seen = 0;
cancelled?.subscribe((event) => {
  if (event.type === 'token' && ++seen === 5) cancelled.cancel();
});
const outcomes = await Promise.allSettled(streams.map((stream) => stream.collectWithMetadata()));
const seconds = (performance.now() - started) / 1000;
let total = 0;
for (const [i, outcome] of outcomes.entries()) {
  const stats = streams[i]?.stats;
  total += stats?.tokenCount ?? 0;
  const what = outcome.status === 'fulfilled' ? outcome.value.finishReason : (outcome.reason as { code: string }).code;
  console.log(`  ${others[i]}: ${stats?.tokenCount} tokens, ${stats?.tokensPerSecond.toFixed(0)} tokens/s, ${what}`);
}
console.log(`  aggregate: ${total} tokens in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)} tokens/s`);
const status = await llm.ask(ModelMessage.Status, null);
console.log(`  afterwards: ${status.busySlots} busy slots, ${status.queueDepth} queued`);
