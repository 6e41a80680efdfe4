import { customAlphabet } from 'nanoid';
import type { GenerationUsage, ToolCall } from '../actors/ModelActor/types.js';
import { FinishReason } from '../messaging/TokenStreamEvent.js';

/** @internal An `output_text` content part of an output message. */
export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
  logprobs: never[];
}

/** @internal Where an output item or a response stands. */
export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

/** @internal An output message: the assistant's text. */
export interface OutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: ItemStatus;
  content: OutputText[];
}

/** @internal An output function call: a call the model made, which the client runs. */
export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
}

/** @internal An item of a response's `output`. */
export type OutputItem = OutputMessage | OutputFunctionCall;

/** @internal OpenAI's Responses `usage`. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/**
 * @internal What a Response object says about its request, echoed as OpenAI echoes it
 * (`instructions`, `tools`, `text`, `metadata`, ...): fixed once the request is read.
 */
export interface ResponseEcho {
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  prompt_cache_key: string | null;
  safety_identifier: string | null;
  store: boolean;
  temperature: number | null;
  text: { format: Record<string, unknown>; verbosity: 'medium' };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  user: string | null;
}

/** @internal A Response object (`object: 'response'`), as `POST /v1/responses` answers and `GET` returns it. */
export interface ResponseObject extends ResponseEcho {
  id: string;
  object: 'response';
  created_at: number;
  status: ItemStatus | 'failed';
  background: false;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' } | null;
  max_tool_calls: null;
  output: OutputItem[];
  /** The text of every output message, joined (what the official SDKs compute as `output_text`). */
  output_text: string;
  reasoning: { effort: null; summary: null };
  service_tier: 'default';
  top_logprobs: 0;
  truncation: 'disabled';
  usage: ResponsesUsage | null;
}

const idKey = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 24);

/**
 * @internal The ids of one response and of its output items: `resp_<key>`, and `msg_<key>_<n>` /
 * `fc_<key>_<n>` for the item at output index `n`, so an `item_reference` names its response.
 */
export class ResponseIds {
  readonly key = idKey();
  readonly id = `resp_${this.key}`;

  /** The id of the output item at `index`. */
  item(kind: 'message' | 'function_call', index: number): string {
    return `${kind === 'message' ? 'msg' : 'fc'}_${this.key}_${index}`;
  }
}

/** @internal Only what a {@link ResponseIds} gives out: anything else names no stored response. */
export const RESPONSE_ID = /^resp_[0-9A-Za-z]{24}$/;
/** @internal An output item's id: its kind, its response's key, its output index. */
export const ITEM_ID = /^(?:msg|fc)_([0-9A-Za-z]{24})_\d{1,4}$/;

/** @internal The Responses usage of a generation's token accounting. */
export function responsesUsage(usage: Partial<GenerationUsage> | undefined): ResponsesUsage {
  const input = usage?.promptTokens ?? 0;
  const output = usage?.completionTokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage?.cachedPromptTokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + output,
  };
}

/** @internal `incomplete` when the length limit (`max_output_tokens`) ended the reply, else `completed`. */
export function finishStatus(reason: FinishReason | undefined): 'completed' | 'incomplete' {
  return reason === FinishReason.Length ? 'incomplete' : 'completed';
}

/** @internal An output message item holding `text`. */
export function messageItem(id: string, text: string, status: ItemStatus): OutputMessage {
  return { type: 'message', id, role: 'assistant', status, content: status === 'in_progress' ? [] : [outputText(text)] };
}

/** @internal An `output_text` part. */
export function outputText(text: string): OutputText {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

/** @internal A function call item of a call the model made. */
export function functionCallItem(id: string, call: ToolCall, status: ItemStatus): OutputFunctionCall {
  return { type: 'function_call', id, call_id: call.id, name: call.name, arguments: call.arguments, status };
}

/**
 * @internal The output of a whole reply: its text as one message (left out when the reply is only
 * tool calls), then one `function_call` item per call.
 */
export function replyOutput(ids: ResponseIds, text: string, calls: readonly ToolCall[], reason: FinishReason | undefined): OutputItem[] {
  const status = finishStatus(reason);
  const output: OutputItem[] = [];
  if (text.length > 0 || calls.length === 0) output.push(messageItem(ids.item('message', 0), text, status));
  for (const call of calls) output.push(functionCallItem(ids.item('function_call', output.length), call, 'completed'));
  return output;
}

/** @internal The text of every output message, joined. */
export function outputTextOf(output: readonly OutputItem[]): string {
  return output
    .filter((item): item is OutputMessage => item.type === 'message')
    .flatMap((item) => item.content.map((part) => part.text))
    .join('');
}

/** @internal A Response object: the request's echo, the ids, and where the response stands. */
export function responseObject(
  echo: ResponseEcho,
  ids: ResponseIds,
  createdAt: number,
  state: Pick<ResponseObject, 'status' | 'output' | 'usage'> & Partial<Pick<ResponseObject, 'error'>>,
): ResponseObject {
  return {
    id: ids.id,
    object: 'response',
    created_at: createdAt,
    status: state.status,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    max_tool_calls: null,
    output: state.output,
    output_text: outputTextOf(state.output),
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    top_logprobs: 0,
    truncation: 'disabled',
    usage: state.usage,
    ...echo,
  };
}
