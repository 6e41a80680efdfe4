import { defineConfig } from 'vitest/config';

// Two trees: `standalone` runs fast and in parallel with no model; `model` loads real GGUF files
// through node-llama-cpp, so it runs in one forked worker that shares one `Llama` instance
// (native code is safest in a child process, and two workers would fight over 2 cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'standalone',
          include: ['test/standalone/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'model',
          include: ['test/model/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
          isolate: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
