import { defineProtocol, Lane } from '../../messaging/protocol.js';
import type { AdapterInfo } from './validateAdapter.js';
import {
  type AdapterListing,
  type ApplyAdapterRequest,
  type ChatTokens,
  type CountPromptTokensRequest,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerateStreamShape,
  type GenerationUsage,
  ModelMessage,
  type ModelInfo,
  type ModelStatus,
  type RemoveAdapterRequest,
  type ScoreRequest,
  type ScoreResult,
  type SetAdapterScaleRequest,
  type TokenizeChatRequest,
} from './types.js';

/** What a ModelActor answers, message by message (see {@link ModelMessage} for what each does). */
export interface ModelProtocol {
  [ModelMessage.Generate]: { payload: GenerateRequest; reply: GenerateResult; stream: GenerateStreamShape };
  [ModelMessage.Embed]: { payload: EmbedRequest; reply: EmbedResult };
  [ModelMessage.Tokenize]: { payload: { text: string }; reply: { tokens: number[] } };
  [ModelMessage.Detokenize]: { payload: { tokens: number[] }; reply: { text: string } };
  [ModelMessage.Info]: { payload: null | Record<string, never>; reply: ModelInfo };
  [ModelMessage.Status]: { payload: null | Record<string, never>; reply: ModelStatus };
  [ModelMessage.ApplyAdapter]: { payload: ApplyAdapterRequest; reply: AdapterListing };
  [ModelMessage.RemoveAdapter]: { payload: RemoveAdapterRequest; reply: AdapterListing };
  [ModelMessage.SetAdapterScale]: { payload: SetAdapterScaleRequest; reply: AdapterListing };
  [ModelMessage.ListAdapters]: { payload: null | Record<string, never>; reply: AdapterListing };
  [ModelMessage.ValidateAdapter]: { payload: { path: string }; reply: AdapterInfo };
  [ModelMessage.TokenizeChat]: { payload: TokenizeChatRequest; reply: ChatTokens };
  [ModelMessage.Score]: { payload: ScoreRequest; reply: ScoreResult };
  [ModelMessage.CountPromptTokens]: { payload: CountPromptTokensRequest; reply: { promptTokens: number } };
}

/**
 * The ModelActor's protocol (kind `model`). Generation, scoring and every read run in the
 * concurrent lane: the model's own slot scheduler admits them (bounded queue, `QUEUE_FULL`), so a
 * long generation never holds up a status or another stream. Changes to the adapter set run in the
 * exclusive lane, one at a time, in order.
 */
export const modelProtocol = defineProtocol<ModelProtocol>('model', {
  [ModelMessage.Generate]: { lane: Lane.Concurrent, stream: true, exposed: true, paths: ['adapters[].path', 'messages[].content[].path'] },
  [ModelMessage.Embed]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.Tokenize]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.Detokenize]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.Info]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.Status]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.ApplyAdapter]: { exposed: true, paths: ['path'] },
  [ModelMessage.RemoveAdapter]: { exposed: true, paths: ['path'] },
  [ModelMessage.SetAdapterScale]: { exposed: true, paths: ['path'] },
  [ModelMessage.ListAdapters]: { lane: Lane.Concurrent, exposed: true },
  [ModelMessage.ValidateAdapter]: { lane: Lane.Concurrent, exposed: true, paths: ['path'] },
  [ModelMessage.TokenizeChat]: { lane: Lane.Concurrent, exposed: true, paths: ['messages[].content[].path'] },
  [ModelMessage.Score]: { lane: Lane.Concurrent, exposed: true, paths: ['adapters[].path'] },
  [ModelMessage.CountPromptTokens]: { lane: Lane.Concurrent, exposed: true, paths: ['messages[].content[].path'] },
});
