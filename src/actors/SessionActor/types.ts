import type { GenerationParams, GenerationUsage } from '../ModelActor/types.js';
import type { SessionEntity, Turn } from '../../entities/types.js';
import type { FinishReason } from '../../messaging/TokenStreamEvent.js';

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

/** Payload of {@link SessionMessage.Inference}. */
export interface InferenceRequest {
  message: string;
  /** Overrides the session's system prompt for this turn only. */
  system?: string;
  /** Merged over the session's default parameters. */
  params?: GenerationParams;
  /** Names the turn for `waitForCompletion` and completion events. Defaults to the request message's id (for streams, the stream's id). */
  promptId?: string;
}

/** Reply of an `ask` with {@link SessionMessage.Inference}. */
export interface InferenceResult {
  promptId: string;
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
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
