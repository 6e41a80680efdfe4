/**
 * Child process for the training tests: calls the bundled llama.cpp through the koffi bindings and
 * prints one JSON line. It runs apart from the test worker because that process already has
 * node-llama-cpp's own copy of llama.cpp loaded (possibly a local build whose libraries share
 * sonames with the prebuilt ones), and two copies in one process do not mix.
 *
 *   node --import tsx test/model/helpers/nativeProbe.ts defaults
 *   node --import tsx test/model/helpers/nativeProbe.ts quantize <input> <output> <ftype>
 *   node --import tsx test/model/helpers/nativeProbe.ts train-async <job.json>
 */
import { readFileSync } from 'node:fs';
import * as koffi from 'koffi';
import {
  initLlamaBackends,
  LlamaContextParams,
  LlamaModelParams,
  LlamaModelQuantizeParams,
  loadLlamaNative,
} from '../../../src/actors/TunerActor/training/llamaNative.js';
import { runTraining } from '../../../src/actors/TunerActor/training/runTraining.js';
import type { ResolvedTrainingJob } from '../../../src/actors/TunerActor/training/TrainingJob.js';

const [command, ...args] = process.argv.slice(2);
const native = loadLlamaNative();
const { fn } = native;

if (command === 'defaults') {
  // On x86-64 System V a struct above 16 bytes is returned through a hidden pointer passed as the
  // first argument: declared as taking that pointer, the function writes into a canary-filled
  // buffer, and the last byte it writes gives the native sizeof (up to tail padding).
  const nativeSizes: Record<string, number> = {};
  if (process.platform === 'linux' && process.arch === 'x64') {
    const llama = koffi.load(native.libraries.llama);
    for (const [name, type] of [
      ['llama_model_default_params', LlamaModelParams],
      ['llama_context_default_params', LlamaContextParams],
      ['llama_model_quantize_default_params', LlamaModelQuantizeParams],
    ] as const) {
      const probe = llama.func(`void ${name}(_Inout_ uint8_t *out)`);
      const buffer = Buffer.alloc(1024, 0xa5);
      probe(buffer);
      const written = buffer.findLastIndex((byte) => byte !== 0xa5) + 1;
      nativeSizes[name] = Math.ceil(written / type.alignment) * type.alignment;
    }
  }
  console.log(
    JSON.stringify({
      binsDir: native.binsDir,
      model: fn.llama_model_default_params(),
      context: { ...fn.llama_context_default_params(), n_samplers: Number(fn.llama_context_default_params().n_samplers) },
      quantize: { ...fn.llama_model_quantize_default_params(), max_buf_size: Number(fn.llama_model_quantize_default_params().max_buf_size) },
      optimizer: fn.ggml_opt_get_default_optimizer_params(null),
      nativeSizes,
      koffiSizes: {
        llama_model_default_params: koffi.sizeof(LlamaModelParams),
        llama_context_default_params: koffi.sizeof(LlamaContextParams),
        llama_model_quantize_default_params: koffi.sizeof(LlamaModelQuantizeParams),
      },
    }),
  );
} else if (command === 'quantize') {
  const [input, output, ftype] = args;
  if (input === undefined || output === undefined || ftype === undefined) throw new Error('usage: quantize <input> <output> <ftype>');
  initLlamaBackends(native);
  const status = fn.llama_model_quantize(input, output, { ...fn.llama_model_quantize_default_params(), ftype: Number(ftype), nthread: 1 });
  console.log(JSON.stringify({ status }));
} else if (command === 'train-async') {
  // runTraining in-process with koffi's async calls: the event loop must stay free during an epoch.
  const job = JSON.parse(readFileSync(args[0]!, 'utf8')) as ResolvedTrainingJob;
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  let progress = 0;
  const outcome = await runTraining(job, { nativeCalls: 'async', onProgress: () => progress++ });
  clearInterval(timer);
  console.log(JSON.stringify({ initialValidationLoss: outcome.initialValidationLoss, validationLoss: outcome.validationLoss, ticks, progress }));
} else {
  throw new Error(`unknown command ${String(command)}`);
}
