import OpenAI from 'openai';
import type { ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SessionHistory, SessionMessage, sessionProtocol } from '../../src/index.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * Tool calls through a session: a reply's calls are stored on its assistant turn, the next turn
 * answers them with toolResults (in process, on /sessions/:id/messages and through the OpenAI route
 * with a session), and the history keeps calls and results together when it shifts.
 */

let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ contextSize: 2048 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => server.dispose());

const weather = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'] },
};

async function newSession(id: string): Promise<string> {
  const response = await fetch(`${server.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, model: 'tiny' }) });
  expect(response.status).toBe(201);
  return id;
}

async function history(id: string): Promise<SessionHistory> {
  return (await (await fetch(`${server.url}/sessions/${id}`)).json()) as SessionHistory;
}

describe('tool calls through a session', () => {
  it('in process: the call is stored on the reply, toolResults answer it, the next reply continues', async () => {
    const id = await newSession('tools-in-process');
    const session = server.router.ref(await server.sessions.load(id), sessionProtocol);
    const first = await session.ask(SessionMessage.Inference, { message: 'weather in paris?', tools: [weather], toolChoice: 'required', params: { maxTokens: 100 } });
    expect(first.finishReason).toBe('toolCalls');
    const call = first.toolCalls?.[0];
    expect(call?.name).toBe('get_weather');
    expect(Object.keys(JSON.parse(call?.arguments ?? 'null') as object)).toEqual(['city']);

    const refused = await session.ask(SessionMessage.Inference, { toolResults: [{ toolCallId: 'call_other', content: '1' }] }).catch((e: Error) => e);
    expect((refused as Error).message).toContain('"call_other" is not a call of the last reply');
    const second = await session.ask(SessionMessage.Inference, {
      toolResults: [{ toolCallId: call!.id, content: '{"t": 21}' }],
      tools: [weather],
      toolChoice: 'none',
      params: { maxTokens: 5 },
    });
    expect(second.toolCalls).toBeUndefined();
    expect(second.usage!.promptTokens).toBeGreaterThan(first.usage!.promptTokens);

    const { turns } = await history(id);
    expect(turns.map((t) => t.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(turns[1]?.toolCalls).toEqual(first.toolCalls);
    expect(turns[2]).toMatchObject({ toolCallId: call!.id, content: '{"t": 21}' });
    // A second toolResults turn has nothing left to answer.
    const again = await session.ask(SessionMessage.Inference, { toolResults: [{ toolCallId: call!.id, content: 'x' }] }).catch((e: Error) => e);
    expect((again as Error).message).toContain('made no tool calls');
  });

  it('over HTTP: /sessions/:id/messages streams the call pieces and a done with data.toolCalls', async () => {
    const id = await newSession('tools-http');
    const response = await fetch(`${server.url}/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'weather?', tools: [weather], toolChoice: { name: 'get_weather' }, params: { maxTokens: 100 } }),
    });
    const text = await response.text();
    const events = text.split('\n\n').filter((block) => block.includes('data: ')).map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>);
    const done = events.find((event) => event.type === 'done') as { data: { toolCalls: Array<{ id: string; arguments: string }> } };
    expect(done.data.toolCalls).toHaveLength(1);
    const pieces = events.filter((event) => event.type === 'token').map((event) => (event.toolCall as { arguments: string }).arguments).join('');
    expect(pieces.trim()).toBe(done.data.toolCalls[0]?.arguments);
    expect((await history(id)).turns[1]?.toolCalls?.[0]?.id).toBe(done.data.toolCalls[0]?.id);
  });

  it('through the OpenAI route with a session: trailing tool messages are the next turn', async () => {
    const id = await newSession('tools-openai');
    const tool: ChatCompletionTool = { type: 'function', function: weather };
    const headers = { 'x-session-id': id };
    const first = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'weather?' }], tools: [tool], tool_choice: 'required', max_tokens: 100 }, { headers });
    const message = first.choices[0]!.message;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    const call = message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('no call');
    const second = await client.chat.completions.create(
      { model: 'tiny', messages: [{ role: 'user', content: 'weather?' }, message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }], tools: [tool], tool_choice: 'none', max_tokens: 5 },
      { headers },
    );
    expect(second.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect((await history(id)).turns.map((t) => t.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  });
});
