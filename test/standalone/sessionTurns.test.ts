import { describe, expect, it } from 'vitest';
import { inputTurns, shiftedStart, turnMessages } from '../../src/actors/SessionActor/sessionTurns.js';
import type { Turn } from '../../src/index.js';

const at = 1;
const call = { id: 'c1', name: 'f', arguments: '{}' };
const turns: Turn[] = [
  { role: 'user', content: 'q1', at },
  { role: 'assistant', content: '', toolCalls: [call], at },
  { role: 'tool', toolCallId: 'c1', content: 'r', at },
  { role: 'assistant', content: 'a1', at },
  { role: 'user', content: 'q2', at },
  { role: 'assistant', content: 'a2', at },
];

describe('session turns with tools', () => {
  it('shifting drops whole exchanges: calls and their results go together', () => {
    expect(shiftedStart(turns, 0)).toBe(4);
    expect(shiftedStart(turns, 4)).toBe(6);
    expect(shiftedStart([{ role: 'user', content: 'x', at }, { role: 'assistant', content: 'y', at }], 0)).toBe(2);
  });

  it('keeps tool calls and call ids on the messages sent to the model', () => {
    expect(turnMessages(turns.slice(1, 3))).toEqual([
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', content: 'r', toolCallId: 'c1' },
    ]);
  });

  it('a turn is a message or the results of every call of the last reply', () => {
    const asked = turns.slice(0, 2);
    expect(inputTurns({ message: 'hi' }, [], 'p', at)).toEqual([{ role: 'user', content: 'hi', promptId: 'p', at }]);
    expect(inputTurns({ toolResults: [{ toolCallId: 'c1', content: 'r' }] }, asked, 'p', at)).toEqual([{ role: 'tool', toolCallId: 'c1', content: 'r', promptId: 'p', at }]);
    const refused = (request: object, history: Turn[]) => {
      try {
        inputTurns(request, history, 'p', at);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ message: 'x', toolResults: [] }, asked)).toContain('exactly one of');
    expect(refused({}, asked)).toContain('exactly one of');
    expect(refused({ toolResults: [{ toolCallId: 'c1', content: 'r' }] }, turns)).toContain('made no tool calls');
    const two: Turn[] = [{ role: 'assistant', content: '', toolCalls: [call, { ...call, id: 'c2' }], at }];
    expect(refused({ toolResults: [{ toolCallId: 'c1', content: 'r' }] }, two)).toContain('leave call "c2" of the last reply unanswered');
    expect(refused({ toolResults: [{ toolCallId: 'c1', content: 'r' }, { toolCallId: 'c1', content: 'r' }] }, two)).toContain('answered twice');
  });
});
