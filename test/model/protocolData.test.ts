/**
 * Every protocol's messages are plain data: payloads, replies and stream events survive
 * `structuredClone` and a JSON round trip, and hold no functions, class instances or signals.
 *
 * For each protocol (model, session, tuner, model directory) the test walks
 * `Object.keys(protocol.messages)` and sends one real sample payload of each type to a real actor
 * on the tiny model: `ask`, and `stream` (every event collected) for the types that stream. A type
 * without a sample fails, so a new message type cannot skip the check; a sample for a type the
 * protocol no longer declares fails too. Where a message is answered with a typed error, the
 * error's serialized form (`{ code, message, kind }`) is checked instead, and only where the sample
 * says that error is expected.
 *
 * What counts as plain data, and the decision on `undefined` (allowed as an object field's value,
 * meaning absent; nowhere else): see `helpers/plainData.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyAdapters, ensureTinyModel, type TinyAdapterPaths } from '../../scripts/make-models.js';
import {
  ActorError,
  type Address,
  isErrorKind,
  MODEL_DIRECTORY_ADDRESS,
  ModelDirectoryMessage,
  type ModelDirectoryProtocol,
  modelDirectoryProtocol,
  ModelMessage,
  type ModelProtocol,
  modelProtocol,
  type MessageType,
  type PayloadOf,
  type Protocol,
  type ProtocolShape,
  SessionMessage,
  type SessionProtocol,
  sessionProtocol,
  type TokenStreamEvent,
  type TrainingConversation,
  TunerMessage,
  type TunerProtocol,
  tunerProtocol,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';
import { expectPlainData, plainDataProblems } from './helpers/plainData.js';
import { createTestRuntime } from './runtime.js';

/** One message type's sample: how to send it for real. */
interface Sample<P> {
  /** Brings the actor into the state the message needs (not checked). */
  before?: () => Promise<unknown>;
  /** A real payload; called once per send (ask, then stream). */
  payload: () => P | Promise<P>;
  /** Runs after the sends (not checked): tidies what `before` started. */
  after?: () => Promise<unknown>;
  /** The code of a typed error the message is expected to answer with here; none: a real reply. */
  error?: string;
}

/** A sample for every message type of `T`: typed, so a missing one does not compile either. */
type Samples<T extends ProtocolShape> = { [K in MessageType<T>]: Sample<PayloadOf<T, K>> };

let runtime: Awaited<ReturnType<typeof createTestRuntime>>;
let adapters: TinyAdapterPaths;
let outputDir: string;
const address: Record<string, Address> = {};

beforeAll(async () => {
  const [tinyPath, tinyAdapters] = await Promise.all([ensureTinyModel(), ensureTinyAdapters()]);
  adapters = tinyAdapters;
  outputDir = await mkdtemp(join(tmpdir(), 'llama-actors-protocol-data-'));
  runtime = await createTestRuntime({
    llama: await getTestLlama(),
    modelPath: tinyPath,
    providerId: 'local',
    modelId: 'tiny',
    load: { slots: 2, threads: 1, contextSize: 512 },
    askTimeout: 120_000,
  });
  address.model = await runtime.models.ensureStarted('tiny');
  address.session = await runtime.sessions.create({ id: 'plain', model: 'tiny', systemPrompt: 'Be brief.' });
  address.tuner = await runtime.models.ensureTuner('tiny');
  address['model-directory'] = MODEL_DIRECTORY_ADDRESS;
});

afterAll(async () => {
  await runtime?.router.dispose();
  await runtime?.store.dispose();
  if (outputDir !== undefined) await rm(outputDir, { recursive: true, force: true });
});

const TOPICS = ['actors', 'models', 'tokens', 'sessions', 'streams', 'adapters', 'routers', 'contexts'];
/** Enough tokens for one 256-token training window, no validation split: one epoch takes ~2 s. */
const conversations: TrainingConversation[] = TOPICS.map((topic) => ({
  id: topic,
  messages: [
    { role: 'user', content: `What are ${topic}?` },
    { role: 'assistant', content: `The ${topic} are part of the actor model, and the model streams tokens to the session.` },
  ],
}));
let trainings = 0;
const training = (epochs: number) => ({
  dataset: { conversations, validationSplit: 0 },
  config: { epochs, loraRank: 2 },
  options: { contextSize: 256, threads: 1, outputPath: join(outputDir, `trained-${++trainings}.gguf`) },
});

const ask = <R = unknown>(kind: string, type: string, payload: unknown) => runtime.router.ask<R>(address[kind] as Address, type, payload);
const applyTinyAdapter = () => ask('model', ModelMessage.ApplyAdapter, { path: adapters.valid, scale: 1 });
const tokensOf = async (text: string) => (await ask<{ tokens: number[] }>('model', ModelMessage.Tokenize, { text })).tokens;

let turns = 0;
const modelSamples: Samples<ModelProtocol> = {
  [ModelMessage.Generate]: {
    payload: () => ({ messages: [{ role: 'user', content: 'hello' }], params: { maxTokens: 6, temperature: 0 }, logprobs: true }),
  },
  [ModelMessage.Embed]: { payload: () => ({ input: ['one text', 'another text'] }) },
  [ModelMessage.Tokenize]: { payload: () => ({ text: 'hello world' }) },
  [ModelMessage.Detokenize]: { payload: async () => ({ tokens: await tokensOf('hello world') }) },
  [ModelMessage.Info]: { payload: () => null },
  [ModelMessage.Status]: { payload: () => null },
  [ModelMessage.ApplyAdapter]: { payload: () => ({ path: adapters.valid, scale: 1 }) },
  [ModelMessage.RemoveAdapter]: { before: applyTinyAdapter, payload: () => ({ path: adapters.valid }) },
  [ModelMessage.SetAdapterScale]: {
    before: applyTinyAdapter,
    payload: () => ({ path: adapters.valid, scale: 0.5 }),
    after: () => ask('model', ModelMessage.RemoveAdapter, {}),
  },
  [ModelMessage.ListAdapters]: { payload: () => null },
  [ModelMessage.ValidateAdapter]: { payload: () => ({ path: adapters.valid }) },
  [ModelMessage.TokenizeChat]: {
    payload: () => ({ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }] }),
  },
  [ModelMessage.Score]: { payload: async () => ({ tokens: await tokensOf('the actor model streams'), adapters: [{ path: adapters.valid }] }) },
  [ModelMessage.CountPromptTokens]: {
    payload: () => ({ messages: [{ role: 'user', content: 'hi' }], tools: [{ name: 'get_time', description: 'the time' }] }),
  },
};

const sessionSamples: Samples<SessionProtocol> = {
  [SessionMessage.Inference]: { payload: () => ({ message: 'hello', params: { maxTokens: 6, temperature: 0 }, promptId: `turn-${++turns}` }) },
  [SessionMessage.History]: { payload: () => null },
  [SessionMessage.Reset]: { payload: () => null },
  [SessionMessage.Fork]: { payload: () => null },
  [SessionMessage.Export]: { payload: () => null },
  [SessionMessage.Cancel]: { payload: () => null },
  [SessionMessage.WaitForCompletion]: {
    // A turn of its own, so that the sample does not depend on the order the types are declared in.
    before: () => ask('session', SessionMessage.Inference, { message: 'one more', params: { maxTokens: 3 }, promptId: 'waited-for' }),
    payload: () => ({ promptId: 'waited-for' }),
  },
};

/** A long training run stopped from stopTraining's sample; its stream is drained and checked after. */
let stoppedRun: AsyncIterator<TokenStreamEvent<unknown>> | undefined;
const tunerSamples: Samples<TunerProtocol> = {
  [TunerMessage.ValidateAdapter]: { payload: () => ({ path: adapters.valid }) },
  [TunerMessage.ApplyAdapter]: { payload: () => ({ path: adapters.valid, scale: 1 }) },
  [TunerMessage.RemoveAdapter]: { before: applyTinyAdapter, payload: () => ({ path: adapters.valid }) },
  [TunerMessage.SetAdapterScale]: {
    before: applyTinyAdapter,
    payload: () => ({ path: adapters.valid, scale: 0.5 }),
    after: () => ask('model', ModelMessage.RemoveAdapter, {}),
  },
  [TunerMessage.ListAdapters]: { payload: () => null },
  [TunerMessage.PrepareTrainingData]: { payload: () => ({ conversations, validationSplit: 0.25, seed: 1 }) },
  [TunerMessage.ValidateTrainingConfig]: { payload: () => ({ config: { loraRank: 4, epochs: 2 } }) },
  [TunerMessage.Evaluate]: { payload: () => ({ examples: conversations.slice(0, 2), adapters: [{ path: adapters.valid, scale: 1 }] }) },
  [TunerMessage.Status]: { payload: () => null },
  [TunerMessage.StartTraining]: { payload: () => training(1) },
  [TunerMessage.StopTraining]: {
    // A run to stop: a long one, stopped once the trainer reports from inside an epoch.
    before: async () => {
      const events = runtime.router.stream(address.tuner as Address, TunerMessage.StartTraining, training(500))[Symbol.asyncIterator]();
      stoppedRun = events;
      for (;;) {
        const step = await events.next();
        if (step.done) throw new Error('the training to stop ended before it was stopped');
        expectPlainData(step.value, 'a progress event of the run to stop');
        const data = step.value.data as { stage?: string } | undefined;
        if (step.value.type === 'progress' && data?.stage === 'training') return;
      }
    },
    payload: () => null,
    after: async () => {
      const rest: unknown[] = [];
      for (let step = await stoppedRun?.next(); step && !step.done; step = await stoppedRun?.next()) rest.push(step.value);
      expect(rest.at(-1)).toMatchObject({ type: 'error', code: 'TRAINING_STOPPED' });
      rest.forEach((event, index) => expectPlainData(event, `event ${index} after stopTraining`));
    },
  },
  [TunerMessage.GetTrainingStatus]: { payload: () => null },
  [TunerMessage.GetTrainingMetrics]: { payload: () => null },
};

const directorySamples: Samples<ModelDirectoryProtocol> = {
  [ModelDirectoryMessage.EnsureStarted]: { payload: () => ({ model: 'tiny' }) },
};

const PROTOCOLS: Array<{ protocol: Protocol; samples: Record<string, Sample<unknown> | undefined> }> = [
  { protocol: modelDirectoryProtocol, samples: directorySamples },
  { protocol: modelProtocol, samples: modelSamples },
  { protocol: sessionProtocol, samples: sessionSamples },
  { protocol: tunerProtocol, samples: tunerSamples },
];

/** Checks a typed error's serialized form, `{ code, message, kind }`, and returns its code. */
function checkedError(error: unknown, what: string): string {
  if (!(error instanceof ActorError)) throw new Error(`${what} failed with something other than a typed error`, { cause: error });
  const serialized = { code: error.code, message: error.message, kind: error.kind };
  expect(typeof serialized.code).toBe('string');
  expect(isErrorKind(serialized.kind), `${what}: kind ${String(serialized.kind)}`).toBe(true);
  expectPlainData(serialized, `${what}: the error's serialized form`);
  // `code` and `kind` are own enumerable fields, so the error itself serializes with them.
  expect(JSON.parse(JSON.stringify(error))).toMatchObject({ code: serialized.code, kind: serialized.kind });
  return error.code;
}

/** Sends `payload` as an ask and checks the reply, or the typed error the sample expects. */
async function checkAsk(kind: string, type: string, sample: Sample<unknown>): Promise<void> {
  const payload = await sample.payload();
  expectPlainData(payload, `${kind}.${type} payload`);
  const what = `${kind}.${type} reply`;
  let reply: unknown;
  try {
    reply = await ask(kind, type, payload);
  } catch (error) {
    const code = checkedError(error, what);
    if (sample.error === undefined) throw new Error(`${what}: unexpected ${code}`, { cause: error });
    expect(code).toBe(sample.error);
    return;
  }
  if (sample.error !== undefined) throw new Error(`${what}: expected ${sample.error}, got a reply`);
  expectPlainData(reply, what);
}

/** Streams `payload` and checks every event (an error event included), and that the stream ended. */
async function checkStream(kind: string, type: string, sample: Sample<unknown>): Promise<void> {
  const payload = await sample.payload();
  expectPlainData(payload, `${kind}.${type} stream payload`);
  const events: TokenStreamEvent<unknown>[] = [];
  try {
    for await (const event of runtime.router.stream(address[kind] as Address, type, payload, { timeout: 120_000 })) events.push(event);
  } catch (error) {
    // A stream that never started rejects: its error is the answer.
    const code = checkedError(error, `${kind}.${type} stream`);
    expect(code).toBe(sample.error);
    return;
  }
  events.forEach((event, index) => expectPlainData(event, `${kind}.${type} event ${index} (${event.type})`));
  const last = events.at(-1);
  if (sample.error === undefined) {
    expect(last?.type, `${kind}.${type}: the stream ends with done (${JSON.stringify(last)})`).toBe('done');
    expect(events.length).toBeGreaterThan(1);
  } else {
    expect(last).toMatchObject({ type: 'error', code: sample.error });
  }
}

describe('every protocol message is plain data (payload, reply, stream events)', () => {
  it('the check refuses what is not plain data', () => {
    class Point {
      x = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const refused: Record<string, unknown> = {
      function: { reply: { then: () => undefined } },
      date: { at: new Date(0) },
      map: new Map([['a', 1]]),
      'class instance': { point: new Point() },
      error: { error: new Error('boom') },
      signal: { signal: new AbortController().signal },
      buffer: { bytes: Buffer.from('x') },
      NaN: { loss: Number.NaN },
      Infinity: [Number.POSITIVE_INFINITY],
      bigint: { n: 1n },
      'undefined in an array': [1, undefined],
      'a hole': [1, , 3],
      'undefined as the whole value': undefined,
      cycle: cyclic,
      accessor: Object.defineProperty({}, 'x', { get: () => 1, enumerable: true }),
      hidden: Object.defineProperty({}, 'x', { value: 1, enumerable: false }),
      'a null prototype': Object.create(null) as object,
    };
    for (const [name, value] of Object.entries(refused)) {
      expect(plainDataProblems(value), name).not.toEqual([]);
      expect(() => expectPlainData(value, name), name).toThrow();
    }
    const plain = { a: [1, 'two', true, null, { b: -0.5 }], absent: undefined };
    expect(plainDataProblems(plain)).toEqual([]);
    expectPlainData(plain, 'plain');
  });

  for (const { protocol, samples } of PROTOCOLS) {
    describe(`${protocol.kind}`, () => {
      it('has one sample for each message type it declares, and none for a type it does not', () => {
        expect(Object.keys(samples).sort()).toEqual(Object.keys(protocol.messages).sort());
      });

      for (const type of Object.keys(protocol.messages)) {
        const streams = (protocol.messages as Record<string, { stream?: boolean }>)[type]?.stream === true;
        it(`${type}: ${streams ? 'ask and stream' : 'ask'}`, async () => {
          const sample = samples[type];
          if (sample === undefined) throw new Error(`${protocol.kind}.${type} has no sample: add a real payload for it to this test`);
          await sample.before?.();
          try {
            await checkAsk(protocol.kind, type, sample);
            if (streams) await checkStream(protocol.kind, type, sample);
          } finally {
            await sample.after?.();
          }
        });
      }
    });
  }

  it('typed errors, asked and streamed, are plain data too: { code, message, kind } and error events', async () => {
    const refusals: Array<[string, string, unknown, string]> = [
      ['model', ModelMessage.Tokenize, { text: 5 }, 'INVALID_ARGUMENT'],
      ['model', ModelMessage.ValidateAdapter, { path: join(outputDir, 'missing.gguf') }, 'ADAPTER_FILE_NOT_FOUND'],
      ['session', SessionMessage.WaitForCompletion, { promptId: 'never-sent' }, 'PROMPT_NOT_FOUND'],
      ['tuner', TunerMessage.ValidateTrainingConfig, { config: { loraRank: 0 } }, 'INVALID_LORA_RANK'],
      ['model-directory', ModelDirectoryMessage.EnsureStarted, { model: 'no-such-model' }, 'ENTITY_NOT_FOUND'],
    ];
    for (const [kind, type, payload, code] of refusals) {
      await checkAsk(kind, type, { payload: () => payload, error: code });
    }
    // An error event from a stream that started: a generation with a bad parameter.
    await checkStream('model', ModelMessage.Generate, { payload: () => ({ prompt: 'hi', params: { temperature: 9 } }), error: 'INVALID_PARAMETER' });
  });
});
