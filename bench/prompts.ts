/** Prompts the model benchmarks share, so runtime and raw runs are fed the same text. */
export const PROMPT = 'Once upon a time';

export const PROMPTS = [
  'Once upon a time',
  'The actor model',
  'In a small village by the sea',
  'Every morning the baker',
  'The quick brown fox',
  'It was a dark and stormy night',
  'Long ago, in a distant land',
  'The message arrived at noon',
];
