import { join } from 'node:path';
import fc from 'fast-check';
import { anyText, edgeNumber, field, junkValue } from './jsonText.js';

/**
 * Request bodies shaped like each route's. In `fuzz` mode fields get wrong types, edge numbers,
 * odd text and deep nesting; in `clean` mode every value is valid, so that requests also get
 * past validation and reach generation, sessions and the tuner (a fuzz whose every request is
 * refused at the first field tests one `if`). Ids and paths come from small pools that stay
 * harmless: models are only published from `models/`, only {@link FUZZ_MODEL} is ever loaded
 * and only from the tiny model, and training is never started (it writes files).
 */

/** What the bodies may name on the server under test. */
export interface FuzzContext {
  port: number;
  /** The directory the server allows model and adapter paths in (`models/`). */
  modelsDir: string;
  adapters: { valid: string; badShape: string };
  /** Sessions that exist when the run starts (created with small default `maxTokens`). */
  sessionIds: readonly string[];
}

/** `clean`: every value valid; `fuzz`: anything goes. */
export type Mode = 'clean' | 'fuzz';

/**
 * The one fuzz-published model id that other routes may name: /models publishes it only with
 * the tiny model or a missing file, so loading it is cheap and never feeds llama.cpp a crafted
 * file (another suite's job). Other published ids start with `fz-` and are never loaded.
 */
export const FUZZ_MODEL = 'fz-ok';

/** Short valid text: unicode, RTL, NUL and lone surrogates included, never empty. */
const cleanText = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim().length > 0),
  fc.constantFrom('hello', 'the actor', '\u202eevil\u202c', 'a\u0000b', 'x\ud800y', '😀 emoji', '\u0645\u0631\u062d\u0628\u0627', 'e\u0301'),
);

/** Message types for the generic actor routes; `startTraining` left out on purpose (it writes files). */
export const actorMessageTypes = [
  'generate', 'embed', 'tokenize', 'detokenize', 'info', 'status', 'applyAdapter', 'removeAdapter', 'setAdapterScale', 'listAdapters',
  'validateAdapter', 'tokenizeChat', 'score', 'prepareTrainingData', 'validateTrainingConfig', 'evaluate', 'stopTraining',
  'getTrainingStatus', 'getTrainingMetrics', 'inference', 'history', 'reset', 'fork', 'export', 'cancel', 'wait-for-completion',
] as const;

/** The actor each message type is for, in clean mode. */
const MODEL_TYPES = ['generate', 'embed', 'tokenize', 'detokenize', 'info', 'status', 'listAdapters', 'tokenizeChat', 'score'];
const TUNER_TYPES = ['evaluate', 'listAdapters', 'validateAdapter', 'prepareTrainingData', 'getTrainingStatus', 'stopTraining', 'status'];
const SESSION_TYPES = ['inference', 'history', 'export', 'cancel'];

/** The field helpers of one mode: in clean mode every value is the good one. */
function kit(context: FuzzContext, mode: Mode) {
  const clean = mode === 'clean';
  return {
    clean,
    f: <T>(good: fc.Arbitrary<T>, weight = 5): fc.Arbitrary<unknown> => (clean ? good : field(good, weight)),
    text: clean ? cleanText : anyText,
    junk: clean ? fc.constant(undefined) : junkValue,
    number: (min: number, max: number) => fc.double({ min, max, noNaN: true }),
    path: pathValue(context, mode),
    // Most optional fields absent (the defaults are valid too), so that a request mixes a few.
    optional: { requiredKeys: [] as never[] },
  };
}
type Kit = ReturnType<typeof kit>;

/** What the generation routes share: model names, messages, schemas, adapters, sampling fields in both spellings. */
function generationParts(context: FuzzContext, { clean, f, text, junk, number, path, optional }: Kit) {
  const modelName = clean
    ? fc.oneof({ weight: 9, arbitrary: fc.constant('tiny') }, { weight: 1, arbitrary: fc.constant(FUZZ_MODEL) })
    : fc.oneof(
        { weight: 8, arbitrary: fc.constant('tiny') },
        { weight: 1, arbitrary: fc.constantFrom(FUZZ_MODEL, 'nope', 'tiny.tuner', '@(tiny)', '') },
        { weight: 1, arbitrary: anyText.filter((s) => !s.startsWith('fz-')) },
        { weight: 1, arbitrary: junkValue },
      );
  const parts = fc.array(fc.record({ type: f(fc.constant('text')), text: f(text) }), { maxLength: 3 });
  const message = fc.record({
    role: f(fc.constantFrom('user', 'system', 'assistant', 'developer'), 8),
    content: clean ? text : fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: parts }, { weight: 1, arbitrary: junkValue }),
  });
  const messages = f(fc.array(message, { minLength: 1, maxLength: 3 }), 8);
  const userLast = clean ? messages.map((m) => [...(m as unknown[]), { role: 'user', content: 'and now?' }]) : messages;
  const schema = fc.constantFrom<unknown>({ type: 'object' }, { type: 'string', maxLength: 3 }, { type: 'array', items: { type: 'integer' } }, { enum: ['a', 'b'] }, { const: 1 }, {});
  const odd = fc.constantFrom<unknown>({ type: 'object', properties: { a: { $ref: '#' } } }, { anyOf: [] }, { type: 'nonsense' }, { type: 'string', pattern: '(a+)+$' });
  const oddSchema = clean ? schema : fc.oneof(schema, odd, junkValue);
  const stop = clean ? fc.array(cleanText, { minLength: 1, maxLength: 3 }) : fc.oneof(anyText, fc.array(anyText, { maxLength: 20 }));
  const adapters = f(fc.array(fc.record({ path, scale: f(number(-2, 2)) }, { requiredKeys: ['path'] }), { maxLength: clean ? 1 : 2 }), 2);
  const jsonSchemaFormat = fc.record({ type: fc.constant('json_schema'), json_schema: f(fc.record({ name: text, schema: oddSchema })) });
  const sampling = {
    max_tokens: f(fc.integer({ min: 1, max: 4 })),
    max_completion_tokens: f(fc.integer({ min: 1, max: 4 }), 1),
    temperature: f(number(0, 2)),
    top_p: f(number(0, 1)),
    seed: f(fc.nat()),
    stop: f(stop),
    response_format: f(fc.oneof(fc.record({ type: fc.constantFrom('text', 'json_object') }), jsonSchemaFormat)),
    stream: f(fc.boolean(), 3),
    stream_options: f(fc.record({ include_usage: f(fc.boolean()) })),
    session: f(fc.constantFrom(...context.sessionIds, ...(clean ? [] : ['nope'])), 1),
    user: text,
    n: clean ? fc.constant(1) : edgeNumber,
    logprobs: junk,
  };
  const penalty = fc.record({ penalty: f(number(0, 10)), lastTokens: f(fc.nat({ max: 100 })) });
  const params = fc.record(
    {
      maxTokens: f(fc.integer({ min: 1, max: 4 })),
      temperature: f(number(0, 2)),
      topK: f(fc.nat({ max: 100 })),
      topP: f(number(0, 1)),
      minP: f(number(0, 1)),
      seed: f(fc.nat()),
      repeatPenalty: f(fc.oneof(fc.constant(false), penalty)),
      stop: f(clean ? stop : fc.array(anyText, { maxLength: 3 })),
      jsonSchema: oddSchema,
      ...(clean ? {} : { bogus: junkValue }),
    },
    optional,
  );
  return { modelName, messages, userLast, adapters, sampling, paramsField: f(params, 6) };
}
type GenerationParts = ReturnType<typeof generationParts>;

/** What the tuner and the model's scoring take: token arrays, spans, conversations, examples. */
function tuningParts({ clean, f, text }: Kit, { messages }: GenerationParts) {
  const tokens = clean
    ? fc.array(fc.nat({ max: 500 }), { minLength: 2, maxLength: 30 })
    : fc.oneof(fc.array(fc.nat({ max: 520 }), { maxLength: 40 }), fc.array(fc.oneof(fc.integer(), edgeNumber), { maxLength: 6 }), junkValue);
  const exchange = fc.tuple(text, text).map(([q, a]) => [{ role: 'user', content: q }, { role: 'assistant', content: a }]);
  const conversation = fc.record({ id: f(text), messages: clean ? exchange : messages }, { requiredKeys: ['messages'] });
  const spanPairs = fc.array(fc.tuple(fc.integer({ min: -2, max: 60 }), fc.integer({ min: -2, max: 60 })), { maxLength: 3 });
  const prepared = fc.record({ id: f(text), tokens, assistantSpans: f(spanPairs) });
  const examples = clean
    ? fc.array(conversation, { minLength: 1, maxLength: 2 })
    : f(fc.array(fc.oneof({ weight: 3, arbitrary: conversation }, { weight: 1, arbitrary: prepared }), { maxLength: 3 }), 6);
  const spans = f(fc.array(fc.tuple(fc.integer({ min: clean ? 1 : -2, max: clean ? 2 : 50 }), fc.integer({ min: 2, max: clean ? 2 : 50 })), { maxLength: 2 }));
  return { tokens, conversation, examples, spans, method: f(fc.constantFrom('logits', 'probabilities')) };
}
type TuningParts = ReturnType<typeof tuningParts>;

/** The payload of each actor message type (`/actors/:id/ask|stream`). */
function payloadFor(type: unknown, k: Kit, g: GenerationParts, t: TuningParts): fc.Arbitrary<unknown> {
  const { clean, f, text, number, path } = k;
  switch (type) {
    case 'generate': {
      const fuzzOnly = clean ? {} : { messages: g.messages, logprobs: junkValue };
      const prompted = fc.record({ prompt: text, params: g.paramsField, adapters: g.adapters, minFreeTokens: f(fc.nat({ max: clean ? 8 : 600 })), session: text, ...fuzzOnly }, { requiredKeys: ['prompt'] });
      return fc.oneof(prompted, ...(clean ? [fc.record({ messages: g.userLast, params: g.paramsField })] : []));
    }
    case 'embed': return fc.record({ input: clean ? fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 3 })) : fc.oneof(anyText, fc.array(anyText, { maxLength: 3 }), junkValue) });
    case 'tokenize': return fc.record({ text: f(text) });
    case 'detokenize': return fc.record({ tokens: t.tokens });
    case 'score': return fc.record({ tokens: t.tokens, spans: t.spans, method: t.method }, { requiredKeys: ['tokens'] });
    case 'applyAdapter': case 'setAdapterScale': case 'removeAdapter': case 'validateAdapter':
      return fc.record({ path, scale: f(number(-2, 2)) }, { requiredKeys: clean ? ['path'] : [] });
    case 'tokenizeChat': return fc.record({ messages: clean ? g.userLast : g.messages });
    case 'evaluate': return fc.record({ examples: t.examples, adapters: g.adapters, method: t.method }, { requiredKeys: ['examples'] });
    case 'prepareTrainingData': {
      const conversations = clean ? fc.array(t.conversation, { minLength: 1, maxLength: 3 }) : f(fc.array(t.conversation, { maxLength: 3 }));
      return fc.record({ conversations, validationSplit: clean ? number(0, 0.5) : edgeNumber, seed: clean ? fc.nat() : edgeNumber }, { requiredKeys: clean ? ['conversations'] : [] });
    }
    case 'validateTrainingConfig': return fc.record({ config: fc.dictionary(fc.constantFrom('epochs', 'learningRate', 'loraRank', 'batchSize', 'contextSize'), clean ? fc.integer({ min: 1, max: 4 }) : junkValue) });
    case 'inference': return fc.record({ message: f(text), params: g.paramsField, system: f(text) }, { requiredKeys: clean ? ['message'] : [] });
    case 'wait-for-completion': return fc.record({ promptId: f(text) });
    default: return clean ? fc.constant(null) : junkValue;
  }
}

/** Bodies of the generic actor routes, alone and (for clean mode) with the actor id each type is for. */
function actorBodies(context: FuzzContext, k: Kit, g: GenerationParts, t: TuningParts) {
  const odd = fc.constantFrom('toString', '__proto__', '@actor.state', '', 'GENERATE');
  const type = k.clean
    ? fc.constantFrom(...actorMessageTypes)
    : fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...actorMessageTypes) }, { weight: 1, arbitrary: odd }, { weight: 1, arbitrary: junkValue });
  const actor = type.chain((chosen) => {
    // Asks that wait (`wait-for-completion`) get a short timeout: a long one is the client's wish, not a hang.
    const waits = chosen === 'wait-for-completion';
    const timeout = waits ? fc.integer({ min: 1, max: 500 }) : k.f(fc.integer({ min: 1_000, max: 30_000 }), 1);
    return fc.record({ type: fc.constant(chosen), payload: k.f(payloadFor(chosen, k, g, t), 6), timeout }, { requiredKeys: waits ? ['type', 'timeout'] : ['type'] });
  });
  /** In clean mode, the actor a type is for: a model, its tuner, or a session. */
  const actorFor = (chosen: unknown): fc.Arbitrary<string> =>
    SESSION_TYPES.includes(chosen as string)
      ? fc.constantFrom(...context.sessionIds.map((id) => `session/${id}`))
      : TUNER_TYPES.includes(chosen as string) && !MODEL_TYPES.includes(chosen as string) ? fc.constant('tuner/tiny') : fc.constant('model/tiny');
  return { actor, actorWithId: actor.chain((body) => actorFor((body as { type: unknown }).type).map((id) => ({ id, body }))) };
}

/** Bodies of `POST /models`: only FUZZ_MODEL may be loaded later, and only from the tiny model or a missing file. */
function publishBody(context: FuzzContext, { clean, f, path, optional }: Kit) {
  const loadable = fc.record({
    id: fc.constant(FUZZ_MODEL),
    provider: fc.constant('local'),
    path: fc.constantFrom(join(context.modelsDir, 'tiny.gguf'), join(context.modelsDir, 'missing.gguf')),
    load: fc.constant({ slots: 1, contextSize: 256, threads: 1 }),
  });
  const load = f(fc.record({ slots: f(fc.integer({ min: 1, max: 2 })), contextSize: f(fc.constantFrom(128, 256)), threads: f(fc.constant(1)), maxQueue: f(fc.nat({ max: 4 })) }, optional), 3);
  const provider = f(fc.constantFrom('local', '@(local)', ...(clean ? [] : ['nope'])), 6);
  const neverLoaded = fc.record({ id: f(fc.stringMatching(/^fz-[a-z]{1,6}$/), 8), provider, path, load }, { requiredKeys: clean ? ['id', 'provider', 'path'] : ['id'] });
  return fc.oneof(loadable, neverLoaded);
}

/** The route bodies for one mode. */
export function routeBodies(context: FuzzContext, mode: Mode) {
  const k = kit(context, mode);
  const { clean, f, text, number, path } = k;
  const g = generationParts(context, k);
  const t = tuningParts(k, g);
  const { actor, actorWithId } = actorBodies(context, k, g, t);
  const prompt = clean ? text : fc.oneof({ weight: 6, arbitrary: anyText }, { weight: 1, arbitrary: fc.array(anyText, { maxLength: 2 }) }, { weight: 1, arbitrary: junkValue });
  const sessionId = f(fc.oneof(fc.stringMatching(/^fz-s-[a-z0-9]{1,2}$/), ...(clean ? [] : [anyText])));
  return {
    chat: fc.record({ model: g.modelName, messages: g.userLast, ...g.sampling, adapters: g.adapters }, { requiredKeys: ['model', 'messages'] }),
    completion: fc.record({ model: g.modelName, prompt, ...g.sampling, adapters: g.adapters }, { requiredKeys: ['model', 'prompt'] }),
    embeddings: fc.record({ model: g.modelName, input: payloadFor('embed', k, g, t).map((p) => (p as { input: unknown }).input), encoding_format: f(fc.constant('float')) }, { requiredKeys: ['model', 'input'] }),
    actor,
    /** An actor body with the id it is for (clean mode keeps them matched). */
    actorWithId,
    sessionCreate: fc.record({ id: sessionId, model: g.modelName, systemPrompt: f(text), params: g.paramsField }, { requiredKeys: ['model'] }),
    sessionMessage: fc.record({ message: f(text, 8), params: g.paramsField, stream: f(fc.boolean(), 3) }, { requiredKeys: ['message'] }),
    publish: publishBody(context, k),
    adapter: fc.record({ path, scale: f(clean ? number(-2, 2) : fc.oneof(number(-2, 2), edgeNumber)) }, { requiredKeys: clean ? ['path'] : [] }),
    evaluate: fc.record({ examples: t.examples, adapters: g.adapters, method: t.method, stream: f(fc.boolean(), 3), ...(clean ? {} : { adapter: f(path, 1) }) }, { requiredKeys: ['examples'] }),
  };
}

/** A path for adapter or model fields: valid ones in clean mode; wrong kind, missing, outside, relative, NUL, overlong in fuzz mode. */
function pathValue(context: FuzzContext, mode: Mode): fc.Arbitrary<unknown> {
  const { modelsDir, adapters } = context;
  if (mode === 'clean') return fc.constant(adapters.valid);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(adapters.valid, adapters.badShape) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        join(modelsDir, 'tiny.gguf'), join(modelsDir, 'missing.gguf'), join(modelsDir, 'tiny.json'), modelsDir, `${modelsDir}/`,
        join(modelsDir, '..', 'package.json'), '/etc/passwd', '/dev/zero', '/proc/self/environ', 'models/tiny-lora.gguf', '../tiny.gguf',
        `${modelsDir}/../models/tiny-lora.gguf`, `${modelsDir}/tiny-lora.gguf\u0000.txt`, `${modelsDir}/${'x'.repeat(5000)}.gguf`, '', '~/x.gguf',
        `file://${adapters.valid}`, `${modelsDir}/missing/deeper/x.gguf`,
      ),
    },
    { weight: 1, arbitrary: junkValue },
  );
}
