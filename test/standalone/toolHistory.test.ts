import { ChatMLChatWrapper, Llama3_1ChatWrapper, QwenChatWrapper } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
import { JsonValueEnd } from '../../src/actors/ModelActor/tools/JsonValueEnd.js';
import { ToolCallSyntax } from '../../src/actors/ModelActor/tools/ToolCallSyntax.js';
import { toolChatHistory } from '../../src/actors/ModelActor/tools/toolHistory.js';
import type { TextChatMessage as ChatMessage } from '../../src/actors/ModelActor/messageText.js';

const call = (id: string, args = '{"city":"paris"}') => ({ id, name: 'get_weather', arguments: args });

describe('toolChatHistory', () => {
  it('puts calls and their results in the assistant turn that made them, and the reply after them in the same turn', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: 'checking', toolCalls: [call('a'), call('b', '{"city":"rome"}')] },
      { role: 'tool', toolCallId: 'b', content: 'rain' },
      { role: 'tool', toolCallId: 'a', content: '{"t":20}' },
      { role: 'assistant', content: 'sunny in paris' },
      { role: 'user', content: 'thanks' },
    ];
    const { history, continuesTurn } = toolChatHistory(messages);
    expect(continuesTurn).toBe(false);
    expect(history).toEqual([
      { type: 'system', text: 'be brief' },
      { type: 'user', text: 'weather?' },
      {
        type: 'model',
        response: [
          'checking',
          { type: 'functionCall', name: 'get_weather', params: { city: 'paris' }, result: { t: 20 }, startsNewChunk: true },
          { type: 'functionCall', name: 'get_weather', params: { city: 'rome' }, result: 'rain', startsNewChunk: false },
          'sunny in paris',
        ],
      },
      { type: 'user', text: 'thanks' },
    ]);
  });

  it('ending on tool results leaves the turn open for the reply; ending on a user message does not', () => {
    const open = toolChatHistory([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '', toolCalls: [call('a')] },
      { role: 'tool', toolCallId: 'a', content: 'r' },
    ]);
    expect(open.continuesTurn).toBe(true);
    expect(open.history).toHaveLength(2);
    expect(toolChatHistory([{ role: 'user', content: 'q' }]).continuesTurn).toBe(false);
    // Two assistant messages without results between them are two turns, as before tools.
    expect(toolChatHistory([{ role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }]).history).toHaveLength(2);
  });

  it('refuses unanswered calls, stray or repeated results, bad arguments and misplaced fields, naming them', () => {
    const refused = (messages: ChatMessage[]) => {
      try {
        toolChatHistory(messages);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    const asked: ChatMessage = { role: 'assistant', content: '', toolCalls: [call('a')] };
    expect(refused([asked])).toContain('tool call "a" of the last assistant message has no tool message');
    expect(refused([asked, { role: 'user', content: 'x' }])).toContain('messages[1]: tool call "a" has no tool message');
    expect(refused([{ role: 'tool', toolCallId: 'a', content: 'r' }])).toContain('messages[0]: tool message for "a"');
    expect(refused([asked, { role: 'tool', toolCallId: 'a', content: 'r' }, { role: 'tool', toolCallId: 'a', content: 'r' }])).toContain('answered already');
    expect(refused([{ role: 'assistant', content: '', toolCalls: [call('a', '{oops')] }])).toContain('messages[0].toolCalls[0].arguments must be JSON');
    expect(refused([{ role: 'assistant', content: '', toolCalls: [call('a'), call('a')] }])).toContain('id "a" is used twice');
    expect(refused([{ role: 'user', content: 'x', toolCallId: 'a' }])).toContain('only a tool message can have a toolCallId');
    expect(refused([{ role: 'user', content: 'x', toolCalls: [] }])).toContain('only an assistant message can have toolCalls');
    expect(refused([asked, { role: 'tool', content: 'r' } as ChatMessage])).toContain('needs toolCallId');
  });
});

describe('JsonValueEnd', () => {
  it('finds the end of an object across chunks, ignoring brackets inside strings and escapes', () => {
    const end = new JsonValueEnd();
    expect(end.push('{"a": "}')).toBe(-1);
    expect(end.push('\\" ]", "b": [1, {"c": 2}]')).toBe(-1);
    expect(end.push(' }\n\n')).toBe(2);
    expect(new JsonValueEnd().push('  {}  ')).toBe(4);
  });
});

describe('ToolCallSyntax', () => {
  it("reads each family's call syntax from its chat wrapper", () => {
    const chatml = new ToolCallSyntax(new ChatMLChatWrapper().settings.functions);
    expect(chatml.parallel).toBe(false);
    expect(chatml.triggers).toEqual(['||call: ', '||call:']);
    expect(chatml.opening(0).toString() + 'f' + chatml.afterName('f').toString() + '{}' + chatml.closing('f').toString()).toBe('||call: f({})');

    const qwen = new ToolCallSyntax(new QwenChatWrapper().settings.functions);
    expect(qwen.parallel).toBe(true);
    expect(qwen.triggers.some((t) => t.startsWith('<tool_call>'))).toBe(true);
    const written = qwen.opening(0).toString() + 'f' + qwen.afterName('f').toString() + '{}' + qwen.closing('f').toString();
    expect(JSON.parse(written.replace('<tool_call>', '').replace('</tool_call>', ''))).toEqual({ name: 'f', arguments: {} });
    expect(qwen.opening(1).toString()).toContain('<tool_call>');

    const llama31 = new ToolCallSyntax(new Llama3_1ChatWrapper().settings.functions);
    expect(llama31.opening(0).toString() + 'f' + llama31.afterName('f').toString()).toContain('f');
  });
});
