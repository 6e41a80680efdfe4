/**
 * Child process for the native-crash test: loads a model through a ModelActor on a MessageRouter
 * (the repository's own loading path: `checkModelFile`, node-llama-cpp's load, the default
 * context), then tokenizes a prompt and generates from it. Before each step it sends the parent
 * `{ step }` over IPC and after it `{ done: step }`, so when llama.cpp kills the process the
 * parent knows which step it died in. A step that fails with a JS error is reported as
 * `{ error, code }` and ends the child with exit code 3; a child that survives every step exits 0.
 *
 * Started through crashWorkerBoot.mjs, which registers tsx:
 *
 *   fork('crashWorkerBoot.mjs', [modelPath, prompt, engine?])   // engine: 'native' | 'node-llama-cpp', default auto
 */
import { pino } from 'pino';
// Imported from their modules rather than src/index.ts: the child loads no more than the path it exercises.
import { ModelActor } from '../../../src/actors/ModelActor/ModelActor.js';
import { type ModelEngine, ModelMessage } from '../../../src/actors/ModelActor/types.js';
import { MessageRouter } from '../../../src/messaging/MessageRouter.js';
import type { CrashStep } from '../../../scripts/crashModels.js';
import { getTestLlama } from '../llama.js';

/** What the child tells its parent. */
export type CrashWorkerMessage =
  | { readonly step: CrashStep }
  | { readonly done: CrashStep }
  | { readonly error: string; readonly code: string | undefined; readonly step: CrashStep };

const [modelPath, prompt, engine] = process.argv.slice(2);
if (!modelPath || prompt === undefined || !process.send) throw new Error('usage: fork crashWorker.ts <modelPath> <prompt> [engine]');
const send = (message: CrashWorkerMessage): Promise<void> =>
  new Promise((resolve, reject) => process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve())));

const router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
const model = new ModelActor({
  modelPath,
  llama: await getTestLlama(),
  threads: 1,
  contextSize: 256,
  slots: 1,
  ...(engine ? { engine: engine as ModelEngine } : {}),
});
const address = router.registerActor('model', model, model.actorOptions);

const steps: Record<CrashStep, () => Promise<unknown>> = {
  load: () => model.load(),
  tokenize: () => router.ask(address, ModelMessage.CountPromptTokens, { prompt }),
  generate: () => router.ask(address, ModelMessage.Generate, { prompt, params: { maxTokens: 4, temperature: 0 } }),
};

let step: CrashStep = 'load';
try {
  for (step of ['load', 'tokenize', 'generate'] as const) {
    // Sent before the step starts: a native crash in it leaves no chance to say so.
    await send({ step });
    await steps[step]();
    await send({ done: step });
  }
  await router.dispose();
  process.exit(0);
} catch (error) {
  await send({ error: (error as Error).message, code: (error as { code?: string }).code, step });
  process.exit(3);
}
