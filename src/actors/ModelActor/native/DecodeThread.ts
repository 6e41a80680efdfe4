import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { LlamaBatchValue } from '../../TunerActor/training/llamaNative.js';
import { NativeDecodeError } from './nativeErrors.js';

/** `Atomics.waitAsync` (Node ≥ 16; typed in TypeScript's ES2024 lib, newer than this project's). */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

function hasWaitAsync(atomics: object): atomics is AtomicsWaitAsync {
  return 'waitAsync' in atomics && typeof atomics.waitAsync === 'function';
}

/** Checked once here, so that a runtime without it fails on the first decode with a clear error. */
const waitAsync = hasWaitAsync(Atomics) ? Atomics.waitAsync : undefined;

/** States of the shared control word. */
const State = { Idle: 0, Requested: 1, Done: 2, Exit: 3 } as const;

/**
 * The thread's code, evaluated as a script (no loader, nothing to copy at build time): it binds
 * `llama_decode` on the same libllama and runs every call the engine hands it, one at a time.
 * The batch's fields arrive as native addresses in shared memory.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
try { koffi.config({ ...koffi.config(), sync_stack_size: 8 << 20 }); } catch {}
const Batch = koffi.struct({ n_tokens: 'int32_t', token: 'void *', embd: 'void *', pos: 'void *', n_seq_id: 'void *', seq_id: 'void *', logits: 'void *' });
const decode = koffi.load(workerData.libllama).func('llama_decode', 'int32_t', ['void *', Batch]);
const control = new Int32Array(workerData.shared, 0, 4);
const args = new BigInt64Array(workerData.shared, 16, 8);
const pointer = (value) => (value === 0n ? null : value);
for (;;) {
  const state = Atomics.load(control, 0);
  if (state === ${State.Exit}) break;
  if (state !== ${State.Requested}) {
    Atomics.wait(control, 0, state);
    continue;
  }
  let rc;
  try {
    rc = decode(args[0], { n_tokens: Number(args[1]), token: pointer(args[2]), embd: pointer(args[3]), pos: pointer(args[4]), n_seq_id: pointer(args[5]), seq_id: pointer(args[6]), logits: pointer(args[7]) });
  } catch { rc = -100; }
  Atomics.store(control, 1, rc);
  // Not Done if an exit was asked for meanwhile: the next turn sees it.
  Atomics.compareExchange(control, 0, ${State.Requested}, ${State.Done});
  Atomics.notify(control, 0);
}
`;

/**
 * @internal One thread that makes every `llama_decode` call of an engine. The same thread each time
 * (a koffi async call lands on whichever libuv thread is free) keeps an OpenMP build's thread team
 * and the CPU caches warm; the event loop only waits on a shared word (`Atomics.waitAsync`).
 */
export class DecodeThread {
  private readonly shared = new SharedArrayBuffer(16 + 8 * 8);
  private readonly control = new Int32Array(this.shared, 0, 4);
  private readonly args = new BigInt64Array(this.shared, 16, 8);
  private readonly worker: Worker;
  private failure: NativeDecodeError | undefined;
  private failed: (() => void) | undefined;
  private exited: Promise<void>;

  constructor(libllama: string) {
    const koffi = createRequire(import.meta.url).resolve('koffi');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { koffi, libllama, shared: this.shared } });
    // An engine never disposed must not keep the process alive.
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    const fail = (reason: string) => {
      this.failure ??= new NativeDecodeError(`the decode thread ${reason}`);
      this.failed?.();
    };
    this.worker.on('error', (error) => fail(`failed: ${error.message}`));
    this.worker.once('exit', (code) => fail(`exited with code ${code}`));
  }

  /** Runs `llama_decode(context, batch)` on the thread; resolves with its return code. */
  async decode(context: bigint, batch: LlamaBatchValue): Promise<number> {
    if (this.failure) throw this.failure;
    if (!waitAsync) throw new NativeDecodeError('this runtime has no Atomics.waitAsync (Node ≥ 16 has)');
    const address = (value: unknown) => (typeof value === 'bigint' ? value : 0n);
    this.args.set([context, BigInt(batch.n_tokens), address(batch.token), address(batch.embd), address(batch.pos), address(batch.n_seq_id), address(batch.seq_id), address(batch.logits)]);
    Atomics.store(this.control, 0, State.Requested);
    Atomics.notify(this.control, 0);
    const waiting = waitAsync(this.control, 0, State.Requested);
    if (waiting.async) {
      // A pending waitAsync does not keep node running: the thread does, while a call is in flight.
      this.worker.ref();
      await Promise.race([
        waiting.value,
        new Promise<void>((resolve) => {
          this.failed = resolve;
        }),
      ]);
      this.failed = undefined;
      this.worker.unref();
    }
    if (Atomics.load(this.control, 0) !== State.Done) throw this.failure ?? new NativeDecodeError('the decode thread did not answer');
    const rc = Atomics.load(this.control, 1);
    Atomics.store(this.control, 0, State.Idle);
    return rc;
  }

  /** Stops the thread (after the call in progress, if any). Idempotent. */
  async dispose(): Promise<void> {
    Atomics.store(this.control, 0, State.Exit);
    Atomics.notify(this.control, 0);
    // Held until it has exited, or node would end with work (a caller's cleanup) still pending.
    this.worker.ref();
    await this.exited;
  }
}
