import type { Address } from '../../messaging/address.js';
import { defineProtocol, Lane } from '../../messaging/protocol.js';
import type { GenerateStreamShape } from '../ModelActor/types.js';
import {
  type CompletionEvent,
  type InferenceRequest,
  type InferenceResult,
  type SessionExport,
  type SessionHistory,
  SessionMessage,
} from './types.js';

/** What a SessionActor answers, message by message (see {@link SessionMessage}). */
export interface SessionProtocol {
  [SessionMessage.Inference]: { payload: InferenceRequest; reply: InferenceResult; stream: GenerateStreamShape };
  [SessionMessage.History]: { payload: null | Record<string, never>; reply: SessionHistory };
  [SessionMessage.Reset]: { payload: null | Record<string, never>; reply: SessionHistory };
  [SessionMessage.Fork]: { payload: null | Record<string, never>; reply: Address };
  [SessionMessage.Export]: { payload: null | Record<string, never>; reply: SessionExport };
  [SessionMessage.Cancel]: { payload: null | Record<string, never>; reply: { cancelled: string | null } };
  [SessionMessage.WaitForCompletion]: { payload: { promptId: string }; reply: CompletionEvent };
}

/**
 * The SessionActor's protocol (kind `session`). Turns and resets change the conversation: they run
 * in the exclusive lane, one at a time, in arrival order (a second turn waits for the first).
 * Reads and control (history, export, fork, cancel, wait-for-completion) run beside a turn.
 */
export const sessionProtocol = defineProtocol<SessionProtocol>('session', {
  [SessionMessage.Inference]: { stream: true, exposed: true },
  [SessionMessage.History]: { lane: Lane.Concurrent, exposed: true },
  [SessionMessage.Reset]: { exposed: true },
  [SessionMessage.Fork]: { lane: Lane.Concurrent, exposed: true },
  [SessionMessage.Export]: { lane: Lane.Concurrent, exposed: true },
  [SessionMessage.Cancel]: { lane: Lane.Concurrent, exposed: true },
  [SessionMessage.WaitForCompletion]: { lane: Lane.Concurrent, exposed: true },
});
