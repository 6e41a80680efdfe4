import type { Address } from '../../messaging/address.js';
import type { FinishReason } from '../../messaging/TokenStreamEvent.js';
import type { TextChatMessage } from '../ModelActor/messageText.js';
import type { ChatMessage, GenerateRequest, GenerationParams, GenerationUsage, ToolCall } from '../ModelActor/types.js';

/** Message types a SessionActor handles. */
export const SessionMessage = {
  /** One conversation turn: `ask` for the reply, `stream` / `streamAsk` for its tokens. */
  Inference: 'inference',
  /** The conversation so far. */
  History: 'history',
  /** Forgets every turn (the system prompt and parameters stay). */
  Reset: 'reset',
  /** A new session with this one's history; replies with its address. */
  Fork: 'fork',
  /** The session as portable JSON ({@link SessionExport}). */
  Export: 'export',
  /** Cancels the turn in flight. */
  Cancel: 'cancel',
  /** Resolves when the turn with a given prompt id has completed ({@link CompletionEvent}). */
  WaitForCompletion: 'wait-for-completion',
} as const;
export type SessionMessage = (typeof SessionMessage)[keyof typeof SessionMessage];

/**
 * Payload of {@link SessionMessage.Inference}: a user `message`, or the `toolResults` that answer
 * the calls of the session's last reply (exactly one of them). With `tools`, the reply may call
 * them; its calls are stored on its assistant turn and come back on the result and the `done` event.
 */
export interface InferenceRequest {
  /** The user's message. Required unless `toolResults` are given. */
  message?: string;
  /** One result per call of the last reply, by call id. Defaults to none. */
  toolResults?: ToolResult[];
  /** Functions the reply may call, for this turn (see {@link GenerateRequest.tools}). Defaults to none. */
  tools?: GenerateRequest['tools'];
  /** Defaults to `auto` when `tools` are given. */
  toolChoice?: GenerateRequest['toolChoice'];
  /** Defaults to `true`. */
  parallelToolCalls?: boolean;
  /** Overrides the session's system prompt for this turn only. */
  system?: string;
  /** Merged over the session's default parameters. */
  params?: GenerationParams;
  /** Names the turn for `waitForCompletion` and completion events. Defaults to the request message's id (for streams, the stream's id). */
  promptId?: string;
}

/** What a tool returned for one call of a session's last reply. */
export interface ToolResult {
  /** The {@link ToolCall.id} it answers. */
  toolCallId: string;
  content: string;
}

/** Reply of an `ask` with {@link SessionMessage.Inference}. */
export interface InferenceResult {
  promptId: string;
  text: string;
  /** The calls the reply made (`finishReason` is then `toolCalls`). */
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  /** The model's token accounting; absent when the model sent none. */
  usage?: GenerationUsage;
  /** Turns dropped from the start of the context window to make this turn fit (overflow `shift`). */
  shiftedTurns: number;
}

/** Published when a turn ends, successfully or not (after the seed's background worker). */
export interface CompletionEvent {
  sessionId: string;
  promptId: string;
  success: boolean;
  finishReason?: FinishReason;
  /** The error's code and message when `success` is false. */
  error?: { code: string; message: string };
  timestamp: number;
}

/** Reply of {@link SessionMessage.History}. */
export interface SessionHistory {
  systemPrompt?: string;
  turns: Turn[];
  /** Index of the first turn the model still sees (earlier ones were shifted out). */
  contextStart: number;
}

/** A session as portable JSON: what `export` returns and `SessionManager.import` accepts. */
export interface SessionExport {
  format: 'llama-actors.session';
  version: 1;
  session: SessionEntity;
}

/** One message of a conversation, as stored. */
export interface Turn extends TextChatMessage {
  /** The prompt id of the inference that produced this turn. */
  promptId?: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** A conversation: a model, a system prompt, default parameters and its turns. */
export interface SessionEntity {
  id: string;
  /** The model: its id, or its address (`@(model/<id>)`; `@(<id>)` in sessions stored before model addresses had a kind). */
  model: Address | string;
  systemPrompt?: string;
  params?: GenerationParams;
  /** What to do when the conversation outgrows the context. Defaults to `shift`. */
  overflow?: OverflowPolicy;
  turns: Turn[];
  /** Index of the first turn still sent to the model; earlier ones were shifted out. Defaults to `0`. */
  contextStart?: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * `shift`: drop the oldest turns (the system prompt is kept) until the prompt fits with room to
 * answer. `error`: refuse the turn with `CONTEXT_OVERFLOW` and keep the history as it is.
 */
export type OverflowPolicy = 'shift' | 'error';

/** A session as its store holds it, and the revision it is at there. */
export interface StoredSession {
  session: SessionEntity;
  /** The store's revision of it: a save must name it (see {@link SessionStore.save}). */
  revision: number;
}

/**
 * Where a SessionActor keeps its conversation: a port the entity layer implements over its
 * `Store`, so the actor depends on nothing above it. Saves are conditional on the revision the
 * actor last loaded or saved, so that several actors of one session (one per front end sharing
 * the store) never overwrite each other's turns.
 */
export interface SessionStore {
  /** The session and its revision, or a typed error (e.g. `ENTITY_NOT_FOUND`) when there is none. */
  load(id: string, options?: { signal?: AbortSignal }): Promise<StoredSession>;
  /**
   * Writes the session if it is still at `revision`; resolves with its new revision once it is
   * durable. Rejects with `SessionConflictError` (code `SESSION_CONFLICT`) if it was written
   * since, writing nothing.
   */
  save(session: SessionEntity, revision: number): Promise<number>;
}
