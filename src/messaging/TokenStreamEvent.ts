/**
 * The kinds of stream event. Every stream ends with exactly one `done` or `error`; before that come
 * `token` events (text) and, for work that is not text (evaluation, training), `progress` events.
 */
export const StreamEventType = {
  Token: 'token',
  /** How far a long-running job has come; its figures are in `data`. Not counted as a token. */
  Progress: 'progress',
  Done: 'done',
  Error: 'error',
} as const;
export type StreamEventType = (typeof StreamEventType)[keyof typeof StreamEventType];

/** Why a stream ended. Producers set `stop`, `length` or `stopSequence` on their `done` event. */
export const FinishReason = {
  /** The producer finished on its own (end of generation). */
  Stop: 'stop',
  /** A length limit (e.g. `maxTokens`) was reached. */
  Length: 'length',
  /** A stop sequence was produced. */
  StopSequence: 'stopSequence',
  /** The model called one or more tools: the calls are on the `done` event (`data.toolCalls`). */
  ToolCalls: 'toolCalls',
  /** The consumer cancelled or aborted the stream. */
  Cancelled: 'cancelled',
  /** The stream's timeout elapsed. */
  Timeout: 'timeout',
  /** The producer or a consumer failed. */
  Error: 'error',
} as const;
export type FinishReason = (typeof FinishReason)[keyof typeof FinishReason];

/** Token accounting a producer may attach to its `done` event. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** From the request to the first token, in ms, as the producer measured it. */
  timeToFirstTokenMs?: number;
  /** Decode rate as the producer measured it. */
  tokensPerSecond?: number;
}

/** What a stream carries when its protocol does not say: a {@link TokenUsage} and plain records. */
export interface DefaultStreamShape {
  usage: TokenUsage;
  data: Record<string, unknown>;
  progress: Record<string, unknown>;
}

/** The `usage` type of stream shape `S`. */
export type UsageIn<S> = S extends { usage?: infer U } ? (unknown extends U ? TokenUsage : U) : TokenUsage;
/** The `data` type of a `done` event of stream shape `S`, or of a `progress` event. */
export type DataIn<S> =
  | (S extends { data?: infer D } ? (unknown extends D ? Record<string, unknown> : D) : Record<string, unknown>)
  | (S extends { progress?: infer P } ? (unknown extends P ? Record<string, unknown> : P) : never);

/**
 * One chunk of a stream, as consumers receive it. The kernel gives no meaning to `content` beyond
 * "text"; the model layer fills the optional metadata (`tokenId`, `logprob`, ...). `S` is the
 * stream's shape from its protocol (what `usage` and `data` hold).
 */
export interface TokenStreamEvent<S = DefaultStreamShape> {
  type: StreamEventType;
  /** The text of a `token` event. */
  content?: string;
  /** The message of an `error` event. */
  error?: string;
  /** The stable code of an `error` event (see `ErrorCode`). */
  code?: string;
  /** The kind of an `error` event's error (see `ErrorKind`): what it means to the caller (not found, overloaded, ...). */
  kind?: string;
  /** Milliseconds since the epoch, from the router's clock when the producer did not set it. */
  timestamp: number;
  /** Vocabulary id of the token. */
  tokenId?: number;
  /** Natural-log probability of the token. */
  logprob?: number;
  /**
   * The most likely tokens at this step (the chosen one among them or not), most likely first, with
   * their natural-log probabilities: as many as the request's `topLogprobs` asked for.
   */
  topLogprobs?: TopLogprob[];
  /** Decode rate measured by the producer. */
  tokensPerSecond?: number;
  /**
   * On a `token` event that is part of a tool call rather than text (its `content` is then `''`):
   * which call, and the next piece of its JSON arguments. The first piece of a call carries its
   * `id` and `name`.
   */
  toolCall?: ToolCallDelta;
  /** On `done`: why generation stopped. */
  finishReason?: FinishReason;
  /** On `done`: token accounting. */
  usage?: UsageIn<S>;
  /**
   * Structured figures of a `progress` event (e.g. `{ completed: 3, total: 10, loss: 2.1 }`), or the
   * final result of a non-text job on its `done` event.
   */
  data?: DataIn<S>;
}

/** One of the most likely tokens at a step of generation. */
export interface TopLogprob {
  /** Vocabulary id of the token. */
  tokenId: number;
  /** Its text, alone (a piece of a multi-byte character shows as U+FFFD). */
  text: string;
  /** Its natural-log probability. */
  logprob: number;
}

/** A piece of a tool call as it streams: `index` counts the reply's calls from 0. */
export interface ToolCallDelta {
  index: number;
  /** On the call's first piece. */
  id?: string;
  /** On the call's first piece. */
  name?: string;
  /** The next characters of the arguments' JSON text (possibly `''`). */
  arguments: string;
}

/** What a producer hands to `onChunk`: a {@link TokenStreamEvent} whose `timestamp` may be left out. */
export type TokenStreamEventInput<S = DefaultStreamShape> = Omit<TokenStreamEvent<S>, 'timestamp'> & { timestamp?: number };

/**
 * Receives stream chunks. Returning a promise applies backpressure: the next chunk is not delivered
 * (and the producer's `onChunk` does not resolve) until it settles.
 */
export type StreamCallback<T> = (event: T) => void | Promise<void>;
