import { getLlama, type Llama } from 'node-llama-cpp';

let shared: Promise<Llama> | undefined;

/**
 * The one `Llama` (native backend) of this test worker, created on first use.
 *
 * CPU only, and `build: 'never'`: tests must use the prebuilt binary from
 * `@node-llama-cpp/linux-x64` (which loads even though npm skipped node-llama-cpp's postinstall)
 * and fail clearly rather than start a multi-minute source build. Loading the backend more than
 * once per process wastes seconds and memory, so every model test shares this instance.
 */
export function getTestLlama(): Promise<Llama> {
  shared ??= getLlama({ gpu: false, build: 'never' }).catch((error: unknown) => {
    // A failed attempt must not be cached: let the next caller try again.
    shared = undefined;
    throw error;
  });
  return shared;
}
