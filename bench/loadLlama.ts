import { getLlama, type Llama, LlamaLogLevel } from 'node-llama-cpp';

/** Which llama.cpp binary a benchmark measures. */
export type Binary = 'auto' | 'prebuilt' | 'local';

/** How to make a local build (node-llama-cpp's `source build` fails until `source download` ran once). */
export const LOCAL_BUILD_HINT =
  'no local build: make one with `npx --no-install node-llama-cpp source download --gpu false` ' +
  '(builds offline from the llama.cpp source bundled in node-llama-cpp, ~9 minutes on 2 cores; ' +
  '`source build` alone fails with "llama.cpp is not downloaded" until `source download` has run once)';

/**
 * A Llama of the requested binary. `build: 'never'` prefers a local build over the prebuilt binary;
 * a custom CMake option that no local build was made with makes it skip the local build and fall
 * back to the prebuilt binary (prebuilt binaries are matched without custom CMake options).
 */
export async function loadLlama(binary: Binary): Promise<Llama> {
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    logLevel: LlamaLogLevel.error,
    ...(binary === 'prebuilt' ? { cmakeOptions: { LLAMA_ACTORS_BENCH_PREBUILT: '1' } } : {}),
  });
  if (binary === 'prebuilt' && llama.buildType !== 'prebuilt') throw new Error(`asked for the prebuilt binary, got ${llama.buildType}`);
  if (binary === 'local' && llama.buildType !== 'localBuild') {
    await llama.dispose();
    throw new Error(LOCAL_BUILD_HINT);
  }
  return llama;
}
