/**
 * Entry of the native-crash test's child (crashWorker.ts, run from sources). Plain JS, so that
 * node-llama-cpp is imported before tsx's loader is registered: through tsx's hooks its hundreds
 * of modules take about a second longer to load, per child. And with no `--import` in execArgv,
 * the binary test node-llama-cpp forks from getLlama runs as plain node too.
 *
 *   fork('crashWorkerBoot.mjs', [modelPath, prompt, engine])
 */
await import('node-llama-cpp');
const { register } = await import('tsx/esm/api');
register();
await import(new URL('./crashWorker.ts', import.meta.url).href);
