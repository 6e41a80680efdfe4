import { promisify } from 'node:util';
import * as koffi from 'koffi';
import { Deferred } from '../../../messaging/Deferred.js';
import { NativeDecodeError, NativeModelLoadError } from './nativeErrors.js';
import { DecodeThread } from './DecodeThread.js';
import { NativeBatch } from './NativeBatch.js';
import { NativeJob } from './NativeJob.js';
import { rowLogprobs, tokenLogprob } from './nativeLogprobs.js';
import { type NativeInference, loadNativeInference } from './nativeLlama.js';
import { NativeSlot } from './NativeSlot.js';
import { createNativeSampler } from './nativeSampler.js';
import type { NativeEngineSettings, NativeSampling, NativeToken } from './types.js';

/** `enum llama_flash_attn_type`. */
const FLASH_ATTN = { auto: -1, off: 0, on: 1 } as const;

/**
 * One llama.cpp context with a sequence per slot, driven like llama.cpp's own server: every step
 * is one `llama_decode` holding the next token of every running stream plus prompt chunks in the
 * room left, on a persistent ggml thread pool, sampled by llama.cpp's sampler chain per sequence.
 *
 * All native calls on the context happen in the engine's loop, between decodes (which run on a
 * worker thread): KV edits and sampler frees are queued and applied there, so nothing touches the
 * context while it decodes.
 *
 * @example
 * ```ts
 * const engine = await NativeEngine.create({ modelPath, contextSize: 1024, slots: 4, threads: 2, batchSize: 512, flashAttention: false });
 * const slot = engine.getSequence();
 * for await (const { token } of slot.evaluate(promptTokens, { temperature: 0, topK: 40, topP: 1, minP: 0, maxTokens: 32 })) console.log(token);
 * await engine.dispose();
 * ```
 */
export class NativeEngine implements AsyncDisposable {
  readonly contextSize: number;
  readonly batchSize: number;
  readonly currentThreads: number;
  readonly flashAttention: boolean;
  private readonly slots: NativeSlot[] = [];
  private readonly jobs = new Set<NativeJob>();
  private readonly edits: Array<{ apply: () => void; done: Deferred<void> }> = [];
  private readonly batch: NativeBatch;
  private readonly memory: bigint;
  private readonly thread: DecodeThread;
  private readonly nVocab: number;
  private wake: Deferred<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Tokens decoded and `llama_decode` calls since creation. */
  readonly stats = { decodedTokens: 0, decodes: 0 };
  private loop: Promise<void> | undefined;
  private running = false;
  private disposing: Promise<void> | undefined;

  private constructor(
    private readonly inference: NativeInference,
    private readonly model: bigint,
    private readonly context: bigint,
    private readonly pool: { free: () => void } | undefined,
    readonly vocab: bigint,
    settings: NativeEngineSettings,
  ) {
    const fn = inference.fn;
    this.contextSize = settings.contextSize;
    this.batchSize = fn.llama_n_batch(context);
    this.currentThreads = settings.threads;
    this.flashAttention = settings.flashAttention === true;
    this.batch = new NativeBatch(fn, this.batchSize);
    this.memory = fn.llama_get_memory(context) as bigint;
    this.nVocab = fn.llama_vocab_n_tokens(vocab);
    this.thread = new DecodeThread(inference.native.libraries.llama);
    for (let id = 0; id < settings.slots; id++) this.slots.push(new NativeSlot(this, id));
  }

  /** Loads the model's weights (memory-mapped) and creates the context; off the event loop. */
  static async create(settings: NativeEngineSettings): Promise<NativeEngine> {
    const inference = loadNativeInference();
    const fn = inference.fn;
    const modelParams = fn.llama_model_default_params();
    modelParams.n_gpu_layers = 0;
    const model = (await promisify(fn.llama_model_load_from_file.async)(settings.modelPath, modelParams)) as bigint | null;
    if (!model) throw new NativeModelLoadError(`llama.cpp could not load ${settings.modelPath}`);
    const params = fn.llama_context_default_params();
    params.n_ctx = settings.contextSize * settings.slots;
    params.n_batch = settings.batchSize;
    params.n_ubatch = Math.min(settings.batchSize, 512);
    params.n_seq_max = settings.slots;
    params.n_threads = settings.threads;
    params.n_threads_batch = settings.threads;
    params.flash_attn_type = settings.flashAttention === 'auto' ? FLASH_ATTN.auto : settings.flashAttention ? FLASH_ATTN.on : FLASH_ATTN.off;
    // One KV stream per sequence: each slot holds `contextSize` tokens and attends only to its own.
    params.kv_unified = false;
    params.no_perf = true;
    const context = (await promisify(fn.llama_init_from_model.async)(model, params)) as bigint | null;
    if (!context) {
      fn.llama_model_free(model);
      throw new NativeDecodeError(`llama.cpp could not create a context of ${settings.slots} × ${settings.contextSize} tokens`);
    }
    // Without a pool attached, ggml starts and joins threads on every decode.
    const pool = inference.newThreadpool(settings.threads);
    if (pool) fn.llama_attach_threadpool(context, pool.pool, pool.pool);
    return new NativeEngine(inference, model, context, pool, fn.llama_model_get_vocab(model) as bigint, settings);
  }

  /** Slot `i` (the engine has one per slot of its settings), as `LlamaContext.getSequence` would. */
  getSequence(): NativeSlot {
    const free = this.slots.find((slot) => !slot.handedOut);
    if (!free) throw new Error(`all ${this.slots.length} sequences are handed out`);
    free.handedOut = true;
    return free;
  }

  /** @internal Starts a generation on a slot; the engine feeds `tokens` and samples after the last. */
  startGeneration(sequence: number, tokens: readonly number[], sampling: NativeSampling): NativeJob {
    this.checkOpen();
    // Sampling needs the logits of a token fed now: with nothing to feed the job would never run.
    if (tokens.length === 0) throw new NativeDecodeError('a generation needs at least one token to evaluate');
    const sampler = createNativeSampler(this.inference.fn, this.vocab, this.nVocab, sampling);
    const report = { confidence: sampling.confidence === true, topLogprobs: sampling.topLogprobs ?? 0 };
    const job = new NativeJob(sequence, tokens, sampler, sampling.maxTokens, report, undefined, () => this.kick());
    this.jobs.add(job);
    this.kick();
    return job;
  }

  /** @internal Feeds `tokens`, reading the log-probability of `targets[i]` after each input `i` that has one. */
  startScoring(sequence: number, tokens: readonly number[], targets: ReadonlyArray<number | undefined>): NativeJob {
    this.checkOpen();
    if (tokens.length === 0) throw new NativeDecodeError('scoring needs at least one token to evaluate');
    const job = new NativeJob(sequence, tokens, undefined, 0, { confidence: false, topLogprobs: 0 }, targets, () => this.kick());
    this.jobs.add(job);
    this.kick();
    return job;
  }

  /** @internal Ends a job (its consumer is done); its sampler is freed in the loop. */
  finish(job: NativeJob): void {
    if (!this.jobs.has(job)) return;
    job.cancel();
    this.jobs.delete(job);
    const sampler = job.sampler;
    if (sampler !== undefined) void this.edit(() => this.inference.fn.llama_sampler_free(sampler));
  }

  /** @internal Runs a native call on the context between decodes. */
  edit(apply: () => void): Promise<void> {
    const done = new Deferred<void>();
    this.edits.push({ apply, done });
    this.kick();
    return done.promise;
  }

  /** @internal Drops the sequence's KV cells from `start` on. */
  eraseFrom(sequence: number, start: number): Promise<void> {
    return this.edit(() => {
      this.inference.fn.llama_memory_seq_rm(this.memory, sequence, start, -1);
    });
  }

  /** @internal Resolves once the loop has nothing it may schedule (for tests of backpressure). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  private checkOpen(): void {
    if (this.disposing) throw new NativeDecodeError('the engine is disposed');
  }

  private kick(): void {
    if (this.wake) {
      const wake = this.wake;
      this.wake = undefined;
      wake.resolve();
    }
    // `running` flips synchronously where the loop exits, so work queued at any moment starts it.
    if (!this.running) {
      this.running = true;
      this.loop = this.run();
    }
  }

  private applyEdits(): void {
    for (let edit = this.edits.shift(); edit; edit = this.edits.shift()) {
      try {
        edit.apply();
        edit.done.resolve();
      } catch (error) {
        edit.done.reject(error);
      }
    }
  }

  private async run(): Promise<void> {
    while (true) {
      this.applyEdits();
      const scheduled = this.fill();
      if (scheduled.length === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        if (this.jobs.size === 0 && this.edits.length === 0) {
          this.running = false;
          return;
        }
        this.wake = new Deferred<void>();
        await this.wake.promise;
        continue;
      }
      let rc: number;
      try {
        rc = await this.thread.decode(this.context, this.batch.native);
      } catch (error) {
        this.failBatch(scheduled, -99, error);
        continue;
      }
      this.stats.decodes++;
      this.stats.decodedTokens += scheduled.length;
      if (rc !== 0) this.failBatch(scheduled, rc);
      else this.afterDecode(scheduled);
    }
  }

  /**
   * Fills the batch: first the next token of every running stream (they wait on it), then prompt
   * chunks in the room left, in arrival order.
   */
  private fill(): Scheduled[] {
    const batch = this.batch;
    batch.clear();
    const scheduled: Scheduled[] = [];
    const ready = [...this.jobs].filter((job) => job.schedulable);
    const streaming = ready.filter((job) => job.generated > 0 || job.input.length === 1);
    const prompts = ready.filter((job) => !streaming.includes(job));
    for (const job of [...streaming, ...prompts]) {
      if (batch.free === 0) break;
      const slot = this.slots[job.sequence] as NativeSlot;
      const take = Math.min(job.input.length, batch.free);
      const chunk = job.input.splice(0, take);
      const last = job.input.length === 0;
      for (const [i, token] of chunk.entries()) {
        const position = slot.contextTokens.length + i;
        const logitsHere = job.targets ? job.targets[job.fed + i] !== undefined : last && i === chunk.length - 1;
        const index = batch.add(token, position, job.sequence, logitsHere);
        scheduled.push({ job, token, index, logits: logitsHere, input: job.fed + i });
      }
      job.fed += chunk.length;
    }
    return scheduled;
  }

  private afterDecode(scheduled: Scheduled[]): void {
    const fn = this.inference.fn;
    for (const entry of scheduled) {
      const slot = this.slots[entry.job.sequence] as NativeSlot;
      slot.appendEvaluated(entry.token);
    }
    for (const entry of scheduled) {
      if (!entry.logits) continue;
      const job = entry.job;
      if (job.targets) {
        job.logprobs[entry.input] = this.logprob(entry.index, job.targets[entry.input] as number);
        continue;
      }
      if (job.cancelled || job.sampler === undefined) continue;
      const token = fn.llama_sampler_sample(job.sampler, this.context, entry.index);
      if (fn.llama_vocab_is_eog(this.vocab, token)) {
        job.end();
        continue;
      }
      job.generated++;
      job.push(this.sampled(job, entry.index, token));
      // The limit's last token is handed out but never decoded: the sequence stays within its context.
      if (job.generated >= job.maxTokens) job.end();
      else job.input = [token];
    }
    for (const entry of scheduled) if (entry.job.targets && entry.job.input.length === 0 && !entry.job.ended) entry.job.end();
  }

  /**
   * A sampled token with what its job reports: read from the sequence's logits row after sampling
   * (the samplers work on a copy, so the row is the model's raw distribution), between decodes.
   */
  private sampled(job: NativeJob, index: number, token: number): NativeToken {
    const { confidence, topLogprobs } = job.report;
    if (!confidence && topLogprobs === 0) return { token };
    const logits = this.logits(index);
    if (!logits) return confidence ? { token, confidence: Number.NaN } : { token };
    const row = rowLogprobs(logits, token, topLogprobs);
    return { token, ...(confidence ? { confidence: Math.exp(row.logprob) } : {}), ...(topLogprobs > 0 ? { topLogprobs: row.top } : {}) };
  }

  /** log p(token) under the raw distribution at batch index `index`. */
  private logprob(index: number, token: number): number {
    const logits = this.logits(index);
    return logits ? tokenLogprob(logits, token) : Number.NaN;
  }

  /** The logits row of batch index `index` (a view of llama.cpp's buffer, valid until the next decode). */
  private logits(index: number): Float32Array | undefined {
    const pointer = this.inference.fn.llama_get_logits_ith(this.context, index);
    return pointer ? new Float32Array(koffi.view(pointer, this.nVocab * 4)) : undefined;
  }

  /** A failed decode ends every job in the batch with a typed error and drops their slots' KV. */
  private failBatch(scheduled: Scheduled[], rc: number, cause?: unknown): void {
    const jobs = new Set(scheduled.map((entry) => entry.job));
    for (const job of jobs) {
      const slot = this.slots[job.sequence] as NativeSlot;
      this.inference.fn.llama_memory_seq_rm(this.memory, job.sequence, -1, -1);
      slot.resetEvaluated();
      const reason = cause instanceof Error ? cause.message : `llama_decode returned ${rc}`;
      job.end(new NativeDecodeError(`decoding a batch of ${scheduled.length} tokens failed: ${reason}`, { cause }));
    }
  }

  /** Frees the context, thread pool and weights once running work has stopped. Idempotent. */
  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      for (const job of [...this.jobs]) this.finish(job);
      this.kick();
      await this.loop;
      this.applyEdits();
      await this.thread.dispose();
      const fn = this.inference.fn;
      this.batch.dispose();
      fn.llama_free(this.context);
      this.pool?.free();
      fn.llama_model_free(this.model);
    })();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** One token placed in the batch, and which job it serves. */
interface Scheduled {
  job: NativeJob;
  token: number;
  index: number;
  logits: boolean;
  /** Index of the token in the job's input (for scoring targets). */
  input: number;
}
