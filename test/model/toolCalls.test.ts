import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../scripts/make-models.js';
import {
  type ActorRef,
  type ChatMessage,
  FinishReason,
  MessageRouter,
  ModelActor,
  ModelErrorCode,
  ModelMessage,
  type ModelProtocol,
  modelProtocol,
  type EventOf,
  type ToolDefinition,
} from '../../src/index.js';
import { getTestLlama } from './llama.js';

/**
 * Tool calls on the ModelActor, on both engines: forced (required / named) and chosen (auto) calls
 * come back in the model family's syntax, their arguments always parse and match the tool's schema,
 * stream as pieces that join to the final arguments, and a conversation with tool results continues.
 */

let llama: Llama;
let tinyPath: string;

beforeAll(async () => {
  llama = await getTestLlama();
  tinyPath = await ensureTinyModel();
});

const weather: ToolDefinition = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer', enum: [1, 2, 3] }, unit: { enum: ['c', 'f'] } },
    required: ['city', 'days', 'unit'],
    additionalProperties: false,
  },
};
const time: ToolDefinition = { name: 'get_time', description: 'The time now' };
const ask: ChatMessage[] = [{ role: 'user', content: 'what is the weather in paris?' }];

/** Checks a weather call's arguments against the schema, by hand. */
function expectWeatherArguments(text: string): void {
  const args = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(args).sort()).toEqual(['city', 'days', 'unit']);
  expect(typeof args.city).toBe('string');
  expect((args.city as string).length).toBeLessThanOrEqual(12);
  expect([1, 2, 3]).toContain(args.days);
  expect(['c', 'f']).toContain(args.unit);
}

for (const engine of ['native', 'node-llama-cpp'] as const) {
  describe(`tool calls on the ${engine} engine`, () => {
    let router: MessageRouter;
    let model: ActorRef<ModelProtocol>;

    beforeAll(async () => {
      router = new MessageRouter({ logger: pino({ level: 'silent' }), askTimeout: 60_000 });
      const actor = new ModelActor({ modelPath: tinyPath, llama, threads: 1, contextSize: 2048, slots: 2, engine });
      model = router.ref(router.registerActor('model', actor, actor.actorOptions), modelProtocol);
      await actor.load();
    });
    afterAll(() => router.dispose());

    const generate = (request: Record<string, unknown>) =>
      model.ask(ModelMessage.Generate, { messages: ask, params: { maxTokens: 200, seed: 1 }, ...request });

    it('a named tool choice forces that call; its arguments parse and match the schema', async () => {
      for (const seed of [1, 2, 3]) {
        const result = await generate({ tools: [weather, time], toolChoice: { name: 'get_weather' }, params: { maxTokens: 200, seed, temperature: 1 } });
        expect(result.finishReason).toBe(FinishReason.ToolCalls);
        expect(result.text).toBe('');
        expect(result.toolCalls).toHaveLength(1);
        const [call] = result.toolCalls ?? [];
        expect(call?.name).toBe('get_weather');
        expect(call?.id).toMatch(/^call_[\w-]{24}$/);
        expectWeatherArguments(call?.arguments ?? '');
      }
    });

    it('required picks one of the tools by grammar; a tool without parameters gets {}', async () => {
      const names = new Set<string>();
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const result = await generate({ tools: [weather, time], toolChoice: 'required', params: { maxTokens: 200, seed, temperature: 1.5 } });
        expect(result.finishReason).toBe(FinishReason.ToolCalls);
        const call = result.toolCalls?.[0];
        expect(['get_weather', 'get_time']).toContain(call?.name);
        names.add(call?.name ?? '');
        if (call?.name === 'get_time') expect(JSON.parse(call.arguments)).toEqual({});
        else expectWeatherArguments(call?.arguments ?? '');
      }
      expect(names.size).toBeGreaterThan(0);
    });

    it('streams a call as pieces: the first names id and tool, the pieces join to the arguments; done carries the calls', async () => {
      const events: EventOf<ModelProtocol, 'generate'>[] = [];
      await model.streamAsk(
        ModelMessage.Generate,
        { messages: ask, tools: [weather], toolChoice: 'required', params: { maxTokens: 200, seed: 4 } },
        {
          onChunk: (event) => {
            events.push(event);
          },
        },
      );
      const pieces = events.filter((e) => e.type === 'token');
      expect(pieces.length).toBeGreaterThan(3);
      expect(pieces.every((e) => e.content === '' && e.toolCall?.index === 0)).toBe(true);
      expect(pieces[0]?.toolCall).toMatchObject({ name: 'get_weather', arguments: '' });
      const done = events.at(-1);
      expect(done?.type).toBe('done');
      expect(done?.finishReason).toBe(FinishReason.ToolCalls);
      const calls = done?.data?.toolCalls ?? [];
      expect(calls).toHaveLength(1);
      expect(pieces[0]?.toolCall?.id).toBe(calls[0]?.id);
      expect(pieces.map((e) => e.toolCall?.arguments).join('').trim()).toBe(calls[0]?.arguments);
      expectWeatherArguments(calls[0]?.arguments ?? '');
    });

    it('none gives text only; auto without a call gives text (the toy model rarely writes the opening)', async () => {
      const none = await generate({ tools: [weather], toolChoice: 'none', params: { maxTokens: 20, seed: 1 } });
      expect(none.toolCalls).toBeUndefined();
      expect(none.finishReason).toBe(FinishReason.Length);
      expect(none.text.length).toBeGreaterThan(0);
      const auto = await generate({ tools: [weather], params: { maxTokens: 20, seed: 1 } });
      expect([FinishReason.Length, FinishReason.Stop, FinishReason.ToolCalls]).toContain(auto.finishReason);
    });

    it('auto: when the model writes the opening, the call is grammar-constrained from there', async () => {
      // The toy model would almost never write `||call: ` by itself: a grammar makes it the text
      // (a JSON string holding it), so the text phase sees the opening the family's syntax defines.
      const result = await model.ask(ModelMessage.Generate, {
        messages: ask,
        tools: [weather],
        params: { maxTokens: 200, seed: 1, jsonSchema: { const: '||call: ' } },
      });
      expect(result.finishReason).toBe(FinishReason.ToolCalls);
      expect(result.text).toBe('"');
      expect(result.toolCalls?.[0]?.name).toBe('get_weather');
      expectWeatherArguments(result.toolCalls?.[0]?.arguments ?? '');
    });

    it('a conversation with the call and its result continues in the same assistant turn', async () => {
      const first = await generate({ tools: [weather], toolChoice: 'required' });
      const call = first.toolCalls?.[0];
      expect(call).toBeDefined();
      const history: ChatMessage[] = [
        ...ask,
        { role: 'assistant', content: '', toolCalls: call ? [call] : [] },
        { role: 'tool', toolCallId: call?.id ?? '', content: '{"temperature": 21}' },
      ];
      const answer = await model.ask(ModelMessage.Generate, { messages: history, tools: [weather], toolChoice: 'none', params: { maxTokens: 8, seed: 1 } });
      expect(answer.toolCalls).toBeUndefined();
      expect(answer.text.length).toBeGreaterThan(0);
      // The prompt holds the call and its result in the template's syntax.
      const withResult = answer.usage.promptTokens;
      const without = (await model.ask(ModelMessage.Generate, { messages: ask, tools: [weather], toolChoice: 'none', params: { maxTokens: 1 } })).usage.promptTokens;
      expect(withResult).toBeGreaterThan(without + 10);
      // A second call after the result is another step of the same turn.
      const again = await model.ask(ModelMessage.Generate, { messages: history, tools: [weather], toolChoice: 'required', params: { maxTokens: 200, seed: 2 } });
      expect(again.finishReason).toBe(FinishReason.ToolCalls);
      expectWeatherArguments(again.toolCalls?.[0]?.arguments ?? '');
      expect(again.toolCalls?.[0]?.id).not.toBe(call?.id);
    });

    it('a budget that ends inside the arguments gives length and no call', async () => {
      const result = await generate({ tools: [weather], toolChoice: 'required', params: { maxTokens: 3, seed: 1 } });
      expect(result.finishReason).toBe(FinishReason.Length);
      expect(result.toolCalls).toBeUndefined();
      const status = await model.ask(ModelMessage.Status, null);
      expect(status.busySlots).toBe(0);
    });

    it('bad tools and choices are refused with INVALID_PARAMETER naming them, unenforceable schemas with UNSUPPORTED_SCHEMA', async () => {
      const refused = async (request: Record<string, unknown>) => {
        const error = await generate(request).then(() => undefined, (e: { code: string; message: string }) => e);
        return error;
      };
      expect(await refused({ tools: [weather], toolChoice: { name: 'nope' } })).toMatchObject({
        code: ModelErrorCode.InvalidParameter,
        message: expect.stringContaining('"nope", which is not among the tools (get_weather)'),
      });
      expect(await refused({ tools: [{ name: 'bad name' }] })).toMatchObject({ code: ModelErrorCode.InvalidParameter, message: expect.stringContaining('tools[0].name') });
      expect(await refused({ tools: [weather, weather] })).toMatchObject({ message: expect.stringContaining('declared twice') });
      expect(await refused({ tools: [{ name: 'x', parameters: { type: 'string' } }] })).toMatchObject({ message: expect.stringContaining('tools[0].parameters') });
      expect(await refused({ tools: [], toolChoice: 'required' })).toMatchObject({ message: expect.stringContaining('no tools') });
      expect(await refused({ tools: [{ name: 'x', parameters: { type: 'object', properties: { n: { type: 'number', minimum: 0 } } } }] })).toMatchObject({
        code: ModelErrorCode.UnsupportedSchema,
        message: expect.stringContaining('/tools/0/parameters/properties/n/minimum'),
      });
      expect(await refused({ messages: [...ask, { role: 'tool', toolCallId: 'call_x', content: '1' }], tools: [weather] })).toMatchObject({
        message: expect.stringContaining('no earlier assistant message called'),
      });
      const unanswered: ChatMessage[] = [...ask, { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{}' }] }, { role: 'user', content: 'hm' }];
      expect(await refused({ messages: unanswered, tools: [weather] })).toMatchObject({ message: expect.stringContaining('"c1" has no tool message') });
    });
  });
}

