import type { ModelHostStatus } from '../ModelHost/types.js';
import type { RemoteModelStatus } from '../RemoteModel/types.js';
import type { ModelClusterStatus } from './clusterStatus.js';
import type { AdapterSpec } from './adapterTypes.js';
import type { Llama, LlamaGpuType } from 'node-llama-cpp';
import type { Logger } from 'pino';
import type { Clock } from '../../messaging/Clock.js';
import type { FinishReason } from '../../messaging/TokenStreamEvent.js';

/** Message types a ModelActor handles. */
export const ModelMessage = {
  /** Generate text: `ask` for the whole result, `stream` / `streamAsk` for tokens. */
  Generate: 'generate',
  /** Embedding vectors for one or several texts. */
  Embed: 'embed',
  /** Text to token ids. */
  Tokenize: 'tokenize',
  /** Token ids to text. */
  Detokenize: 'detokenize',
  /** What the model is (architecture, context, vocabulary, size, GPU layers). */
  Info: 'info',
  /** How busy it is (slots, queue, tokens/s). */
  Status: 'status',
  /** Adds a LoRA adapter to the model's adapter set (or changes its scale): {@link ApplyAdapterRequest}. */
  ApplyAdapter: 'applyAdapter',
  /** Removes one adapter from the set, or all of them: {@link RemoveAdapterRequest}. */
  RemoveAdapter: 'removeAdapter',
  /** Changes the scale of an adapter in the set: {@link SetAdapterScaleRequest}. */
  SetAdapterScale: 'setAdapterScale',
  /** The adapter set and the contexts that serve adapter sets: {@link AdapterListing}. */
  ListAdapters: 'listAdapters',
  /** Checks an adapter file against this model without loading it: `{ path }` → `AdapterInfo`. */
  ValidateAdapter: 'validateAdapter',
  /** A conversation formatted with the model's chat template and tokenized, with the assistant turns marked: {@link ChatTokens}. */
  TokenizeChat: 'tokenizeChat',
  /** The model's log-probability of given tokens after their prefix: {@link ScoreRequest} → {@link ScoreResult}. */
  Score: 'score',
  /**
   * How many tokens a generation's prompt takes, formatted exactly as `generate` formats it (chat
   * template, tools shown, open assistant turn): {@link CountPromptTokensRequest} → `{ promptTokens }`.
   */
  CountPromptTokens: 'countPromptTokens',
} as const;
export type ModelMessage = (typeof ModelMessage)[keyof typeof ModelMessage];

/** A part of a message's content: text. */
export interface ChatTextPart {
  type: 'text';
  text: string;
}

/**
 * A part of a message's content: an image, given by exactly one of `data` (base64, with its
 * `mimeType`), `path` (a file read when the request is sent: in process only, never from HTTP;
 * through the generic `/actors` routes it is confined to the allowed directories like every
 * declared path) or `url` (passed to a remote provider as it is; nothing here fetches it).
 */
export interface ChatImagePart {
  type: 'image';
  /** The image's bytes, base64. */
  data?: string;
  /** The type of `data` or of the file, e.g. `image/png`. Defaults to the type the bytes' signature names (PNG, JPEG, GIF, WebP), else `image/png`. */
  mimeType?: string;
  /** A file holding the image. */
  path?: string;
  /** An http(s) URL of the image, for the remote to fetch. */
  url?: string;
}

/** A part of a message's content. */
export type ChatContentPart = ChatTextPart | ChatImagePart;

/**
 * One chat message, formatted with the model's own chat template. An assistant message may carry
 * the tool calls it made (its `content` is then often `''`); each call is answered by a `tool`
 * message naming the call's id, before the next user or assistant message.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /**
   * The text, or parts of text and images in order (images on `user` messages only). A model that
   * cannot see refuses an image part with `MODALITY_NOT_SUPPORTED`; text parts alone are the same as
   * their text joined.
   */
  content: string | ChatContentPart[];
  /** On an assistant message: the calls it made, in order. Defaults to none. */
  toolCalls?: ToolCall[];
  /** On a tool message: the {@link ToolCall.id} it answers. Required there, refused elsewhere. */
  toolCallId?: string;
}

/** A function the model may call, declared by the caller: its arguments are constrained to `parameters`. */
export interface ToolDefinition {
  /** 1–64 characters of `a-z A-Z 0-9 _ -` (what OpenAI allows), unique in the request. */
  name: string;
  /** What it does, shown to the model. Defaults to none. */
  description?: string;
  /**
   * JSON schema of the arguments, an object schema; the generated arguments always parse and match
   * it (grammar-constrained). Keywords the grammar cannot enforce are refused (`UNSUPPORTED_SCHEMA`).
   * Defaults to `{ type: 'object', properties: {} }` (no arguments).
   */
  parameters?: object;
}

/**
 * Whether the model may, must or must not call a tool: `auto` lets it choose between text and
 * calls, `required` makes it call at least one, `{ name }` makes it call that one, `none` gives
 * text only (the tools are still shown to it).
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** A call the model made. */
export interface ToolCall {
  /** Unique in the conversation (`call_…`); the tool message that answers it names it. */
  id: string;
  name: string;
  /** The arguments as JSON text: it parses, and matches the tool's `parameters`. */
  arguments: string;
}

/** Repetition penalties (node-llama-cpp's `repeatPenalty`). */
export interface RepeatPenaltyParams {
  /** Multiplier applied to the logits of recent tokens (1 = off). Defaults to `1.1`. */
  penalty?: number;
  /** How many recent tokens are penalised. Defaults to `64`. */
  lastTokens?: number;
  /** Subtracted per occurrence of a token. Defaults to `0`. */
  frequencyPenalty?: number;
  /** Subtracted once for any token that occurred. Defaults to `0`. */
  presencePenalty?: number;
}

/** Sampling and length parameters of a generation. Every value is validated; bad ones get `INVALID_PARAMETER`. */
export interface GenerationParams {
  /** Most tokens to generate, 1 or more. Defaults to `256`. */
  maxTokens?: number;
  /** 0 is greedy. 0 to 2. Defaults to `0.7`. */
  temperature?: number;
  /** 0 disables. Defaults to `40`. */
  topK?: number;
  /** 0 to 1. Defaults to `0.95`. */
  topP?: number;
  /** 0 to 1. Defaults to `0.05`. */
  minP?: number;
  /** Fixes the random sampling for reproducible output (integer ≥ 0). Defaults to random. */
  seed?: number;
  /** Repetition penalties, or `false` for none. Defaults to none. */
  repeatPenalty?: RepeatPenaltyParams | false;
  /** Strings that end generation; they are not included in the output. Defaults to none. */
  stop?: string[];
  /** Constrains output to JSON matching this schema (node-llama-cpp grammar). Defaults to none. */
  jsonSchema?: object;
  /**
   * Token id → bias added to that token's logit before sampling, as OpenAI's `logit_bias`: −100..100,
   * where −100 effectively bans the token and +100 effectively forces it (a finite bias, so a grammar
   * that allows only a banned token still ends). Ids must be inside the vocabulary. Defaults to none.
   */
  logitBias?: Record<number, number>;
}

/** Payload of {@link ModelMessage.Generate}: a raw `prompt`, or chat `messages`. */
export interface GenerateRequest {
  /** Raw text to continue (no template). Exactly one of `prompt` and `messages`. */
  prompt?: string;
  /** A conversation, formatted with the model's chat template; the reply is the assistant's next turn. */
  messages?: ChatMessage[];
  params?: GenerationParams;
  /** Functions the model may call (see {@link ToolChoice}). Defaults to none. */
  tools?: ToolDefinition[];
  /** Defaults to `auto` when `tools` are given. */
  toolChoice?: ToolChoice;
  /** Whether one reply may make several calls. Defaults to `true`. */
  parallelToolCalls?: boolean;
  /** Put the natural-log probability of each token on its `token` event. Defaults to `false`. */
  logprobs?: boolean;
  /**
   * Put the most likely alternatives at each generated token (0..20 of them, most likely first, with
   * their natural-log probabilities) on its `token` event as `topLogprobs`. The native engine reports
   * the model's own distribution; node-llama-cpp's engine the distribution after its sampler chain
   * (logit bias and penalties applied; at a temperature above 0 also cut by top-k / top-p / min-p,
   * so fewer than asked may come). Defaults to `0` (none).
   */
  topLogprobs?: number;
  /**
   * Refuse with `PROMPT_TOO_LONG` unless this many tokens of context are left for the answer
   * after the prompt. Defaults to `1`.
   */
  minFreeTokens?: number;
  /**
   * The conversation this request continues. Requests with the same `session` prefer the slot that
   * still holds its KV cache, so a continuing conversation evaluates only its new tokens. Defaults to none.
   */
  session?: string;
  /**
   * Who is asking, for fair admission: queued requests are served round-robin across keys, so one
   * chatty session cannot starve others. Defaults to `session`, else the message's `from`, else `anonymous`.
   */
  fairnessKey?: string;
  /**
   * The LoRA adapters to generate with: `[]` is the base model. Requests naming the same set share
   * a context and its batches; a set no context serves yet gets one (see `maxContexts`). Defaults
   * to the model's adapter set (`applyAdapter`).
   */
  adapters?: AdapterSpec[];
}

/** Payload of {@link ModelMessage.TokenizeChat}. */
export interface TokenizeChatRequest {
  messages: ChatMessage[];
}

/** Reply of {@link ModelMessage.TokenizeChat}. */
export interface ChatTokens {
  /** The conversation as the model sees it, ending after the last assistant turn's end-of-turn token. */
  tokens: number[];
  /**
   * Token index ranges `[start, end)` of the assistant turns: each turn's text and the end-of-turn
   * token that follows it (what a model must learn to produce).
   */
  assistantSpans: Array<[number, number]>;
}

/** Payload of {@link ModelMessage.Score}. */
export interface ScoreRequest {
  tokens: number[];
  /** Index ranges `[start, end)` of the tokens to score (start ≥ 1: a token is scored given those before it). Defaults to `[[1, tokens.length]]`. */
  spans?: Array<[number, number]>;
  /** Adapter set to score with, as in {@link GenerateRequest.adapters}. Defaults to the model's. */
  adapters?: AdapterSpec[];
  /**
   * `logits`: from the target's logit, the top logit and the sum of all probabilities (three numbers a token).
   * `probabilities`: from the full next-token distribution (the whole vocabulary a token; slower, for cross-checks).
   * Defaults to `logits`.
   */
  method?: 'logits' | 'probabilities';
}

/** Reply of {@link ModelMessage.Score}. */
export interface ScoreResult {
  /** Natural-log probability of each scored token, in order. */
  logprobs: number[];
  /** Tokens found already evaluated in the slot's KV cache and not evaluated again. */
  cachedTokens: number;
}

/** Token accounting of one generation, on the `done` event and in the `ask` result. */
export interface GenerationUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** From admission to the first generated token, in ms (includes queueing and prompt evaluation). */
  timeToFirstTokenMs: number | undefined;
  /** Decode rate: tokens after the first over the time since the first. */
  tokensPerSecond: number;
  /** Time spent waiting for a slot, in ms. */
  queueMs: number;
  /** Prompt tokens found already evaluated in the slot's KV cache and not evaluated again. */
  cachedPromptTokens: number;
}

/** Result of an `ask` with {@link ModelMessage.Generate}. */
export interface GenerateResult {
  /** The reply's text; tool calls are not part of it. */
  text: string;
  finishReason: FinishReason;
  usage: GenerationUsage;
  /** The calls the model made, when it made any (`finishReason` is then `toolCalls`). */
  toolCalls?: ToolCall[];
}

/** What a generation's stream carries: the usage on `done`, and the calls the model made (`data.toolCalls`). */
export interface GenerateStreamShape {
  usage: GenerationUsage;
  data: { toolCalls?: ToolCall[] };
}

/** Payload of {@link ModelMessage.CountPromptTokens}: the prompt part of a {@link GenerateRequest}. */
export type CountPromptTokensRequest = Pick<GenerateRequest, 'prompt' | 'messages' | 'tools' | 'toolChoice'>;

/** Payload of {@link ModelMessage.Embed}. */
export interface EmbedRequest {
  /** One text or several (embedded one after another on the embedding context). */
  input: string | string[];
}

/** Result of {@link ModelMessage.Embed}: one vector per input text. */
export interface EmbedResult {
  embeddings: number[][];
  dimensions: number;
  promptTokens: number;
}

/** What a loaded model is. */
export interface ModelInfo {
  path: string;
  architecture: string | undefined;
  name: string | undefined;
  /** Context size per slot, in tokens. */
  contextSize: number;
  /** Context length the model was trained with. */
  trainContextSize: number;
  vocabularySize: number;
  embeddingSize: number;
  /** File size in bytes. */
  sizeBytes: number;
  parameters: number | undefined;
  gpu: LlamaGpuType;
  gpuLayers: number;
  threads: number;
  slots: number;
  batchSize: number;
  /** Whether the loaded llama.cpp binary is a local build rather than the prebuilt one. */
  localBuild: boolean;
  /** What decodes the base model's generations (see {@link ModelActorOptions.engine}); `remote` for a model on a remote provider. */
  engine: ModelEngine | 'remote';
  chatTemplate: string;
  /** Where a model of a remote provider runs (absent for local models). */
  remote?: { baseURL: string; model: string; vision: boolean };
}

/**
 * What decodes generations: `native` is the project's batched engine on llama.cpp's C API (one
 * `llama_decode` per step for every stream, llama.cpp's sampler chain, a persistent thread pool);
 * `node-llama-cpp` is node-llama-cpp's sequence evaluation.
 */
export type ModelEngine = 'native' | 'node-llama-cpp';

/** How busy a model is. */
export interface ModelStatus {
  state: ModelLifecycleState;
  slots: number;
  busySlots: number;
  queueDepth: number;
  maxQueue: number;
  /** Generations finished since load. */
  completed: number;
  tokensGenerated: number;
  /** Aggregate decode rate over the last few seconds of generation. */
  tokensPerSecond: number;
  /** llama.cpp contexts alive: one per adapter set in use. */
  contexts: number;
  /**
   * The native engine's `llama_decode` calls and the tokens they held since load (tokens ÷ decodes
   * is the mean batch); absent with node-llama-cpp.
   */
  batching?: { decodes: number; tokens: number };
  /** The host process of a model served with `isolation: 'process'` (absent in process). */
  host?: ModelHostStatus;
  /** The replicas of a model served by workers of a NATS cluster, as a front end sees them (absent otherwise). */
  cluster?: ModelClusterStatus;
  /** A model on a remote provider: requests in flight upstream, retries, the last upstream error (absent for local models). */
  remote?: RemoteModelStatus;
}

/** Lifecycle states of a model (an xstate machine). */
export const ModelLifecycleState = {
  Unloaded: 'unloaded',
  Loading: 'loading',
  Ready: 'ready',
  Failed: 'failed',
  Disposed: 'disposed',
} as const;
export type ModelLifecycleState = (typeof ModelLifecycleState)[keyof typeof ModelLifecycleState];

/** Load progress, 0 to 1. */
export type LoadProgressListener = (progress: number) => void;

/** Options of a {@link ModelActor}. */
export interface ModelActorOptions {
  /** Path of the GGUF file. */
  modelPath: string;
  /** A `Llama` to share between models. Defaults to one from `getLlama({ gpu: 'auto', build: 'never' })`. */
  llama?: Llama;
  /** Parallel sequences (concurrent generations batched together). Defaults to 8 on a GPU, else `2 × CPU cores` capped at 8. */
  slots?: number;
  /** Requests allowed to wait for a slot; more are refused with `QUEUE_FULL`. Defaults to `64` (as `OLLAMA_MAX_QUEUE` scaled down). */
  maxQueue?: number;
  /** Tokens of context per slot. Defaults to the model's training context, capped at `4096`. */
  contextSize?: number;
  /** Tokens decoded per batch. Defaults to `512` (or the context size if smaller). */
  batchSize?: number;
  /**
   * CPU threads for decoding. Defaults to every core with the native engine (it keeps one thread
   * pool, and a second thread gained 1.2–2.0× for one stream here), else `max(1, cores - 1)`: node-llama-cpp
   * starts threads per decode and a second thread made it slower (README, "Threads on CPU").
   */
  threads?: number;
  /**
   * llama.cpp flash attention. On CPU it made a 23-token turn after 1,700 tokens of history 5 times
   * slower here (951 vs 186 ms, bench model), so it is off on CPU and llama.cpp's choice on a GPU.
   * Defaults to `false` on CPU, `'auto'` on a GPU.
   */
  flashAttention?: boolean | 'auto';
  /** Layers offloaded to the GPU. Defaults to `'auto'`. */
  gpuLayers?: number | 'auto' | 'max';
  /**
   * What decodes the base model's generations and scoring (adapter sets and embeddings always use
   * node-llama-cpp). `'auto'` picks `native` on CPU (1.6–3× node-llama-cpp's throughput there:
   * bench/RESULTS.md, "Native engine") and `node-llama-cpp` on a GPU, where the native engine is
   * not measured yet. The native engine maps the weights a second time (shared pages for
   * unquantized tensors; quantized tensors that llama.cpp repacks for the CPU are held twice).
   * Defaults to `'auto'`.
   */
  engine?: ModelEngine | 'auto';
  /** Default generation parameters, merged under each request's. */
  defaultParams?: GenerationParams;
  /**
   * Reuse each slot's KV cache: a prompt that starts with tokens the slot already evaluated (the
   * same conversation's earlier turns, a shared system prompt) evaluates only the rest. `false`
   * clears the slot for every request. Defaults to `true`.
   */
  reuseKvCache?: boolean;
  /** The adapter set the model starts with (see {@link ModelMessage.ApplyAdapter}). Defaults to none. */
  adapters?: AdapterSpec[];
  /**
   * The most llama.cpp contexts at once, the default adapter set's included: each adapter set in use
   * needs its own context (KV cache for `slots × contextSize` tokens plus compute buffers; see
   * `listAdapters` for the estimate). A request for another set when all are busy gets
   * `ADAPTER_CONTEXTS_FULL`. Defaults to `3`.
   */
  maxContexts?: number;
  /** How long a context of a non-default adapter set is kept after its last request, in ms (0 frees it at once). Defaults to `30_000`. */
  adapterContextIdleMs?: number;
  /** Enables `embed` (creates an embedding context on first use). Defaults to `true`. */
  embeddings?: boolean;
  /** Called with load progress from 0 to 1. */
  onLoadProgress?: LoadProgressListener;
  /** Defaults to the router's actor logger. */
  logger?: Logger;
  /** Defaults to the system clock. */
  clock?: Clock;
}

/** The largest LoRA adapter scale, either sign: beyond it the logits overflow. */
export const MAX_ADAPTER_SCALE = 10;

export type { ModelClusterStatus, ModelReplicaStatus } from './clusterStatus.js';
export type { AdapterSpec, AppliedAdapter, ApplyAdapterRequest, RemoveAdapterRequest, SetAdapterScaleRequest, AdapterContextInfo, AdapterListing } from './adapterTypes.js';
