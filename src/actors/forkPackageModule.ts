import { type ChildProcess, fork, type ForkOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Under tsx (tests, `npm run demo`) the package runs from its `.ts` sources; built, from `dist/`. */
const TS_SOURCE = import.meta.url.endsWith('.ts');

/**
 * @internal Forks the module `name` next to `base` (an `import.meta.url`) as a child process with an
 * IPC channel: its `.ts` source with tsx's loader when the package runs from source, its `.js` once
 * built. What the trainer and the model hosts start their processes with.
 */
export function forkPackageModule(base: string, name: string, options: ForkOptions): ChildProcess {
  const file = fileURLToPath(new URL(`./${name}.${TS_SOURCE ? 'ts' : 'js'}`, base));
  const loader = TS_SOURCE ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href] : [];
  return fork(file, [], { ...options, execArgv: [...loader, ...(options.execArgv ?? [])] });
}
