/**
 * The streams `bench/http.ts` measures: one greedy chat completion of one user message through each
 * HTTP API the server speaks, read by that API's own client, or by a minimal reader with no client
 * (`fetch`, split the body into lines, `JSON.parse` each event: what any consumer has to do), and
 * through the in-process `router.streamAsk`. Every stream fills an {@link Arrivals}: when each text
 * delta came, how many events and bytes carried them, and the token counts the route reported.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { type Address, type MessageRouter, ModelMessage } from '../src/index.js';

/** Token counts a stream's usage reported. */
export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  cachedPromptTokens?: number;
}

/** Text delta arrival times of one stream, as its consumer saw them, and what carried them. */
export class Arrivals {
  readonly chunks: string[] = [];
  /** Events (SSE events, NDJSON lines, stream chunks) the consumer read, text or not. */
  events = 0;
  /** Body bytes (the minimal readers only; 0 where a client reads the body). */
  bytes = 0;
  usage: Usage = {};
  private first = 0;
  private last = 0;

  constructor(readonly started = performance.now()) {}

  add(content: string): void {
    const now = performance.now();
    if (this.chunks.length === 0) this.first = now;
    this.last = now;
    this.chunks.push(content);
  }

  get text(): string {
    return this.chunks.join('');
  }

  /** Text deltas after the first ÷ time from the first to the last. */
  get tokensPerSecond(): number {
    return this.chunks.length > 1 && this.last > this.first ? ((this.chunks.length - 1) * 1000) / (this.last - this.first) : 0;
  }

  get timeToFirstTokenMs(): number {
    return this.first - this.started;
  }
}

export type Stream = (prompt: string) => Promise<Arrivals>;

/** An event of one API's stream: its JSON, read the same way whoever parsed it. */
type Event = any;

/** One HTTP API: its route, its request body, how its events carry text and usage, and its client's stream. */
interface Api {
  path: string;
  /** SSE (`data:` lines) or NDJSON (one JSON object a line). */
  framing: 'sse' | 'ndjson';
  body(prompt: string): Record<string, unknown>;
  read(event: Event, into: Arrivals): void;
  client(prompt: string): Promise<AsyncIterable<Event>>;
}

function apis(url: string, model: string, maxTokens: number): Record<string, Api> {
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const anthropic = new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: url });
  const user = (prompt: string) => [{ role: 'user' as const, content: prompt }];
  const chat = (prompt: string) => ({ model, messages: user(prompt), max_tokens: maxTokens, temperature: 0, stream: true as const, stream_options: { include_usage: true } });
  const responses = (prompt: string) => ({ model, input: prompt, max_output_tokens: maxTokens, temperature: 0, stream: true as const });
  const messages = (prompt: string) => ({ model, messages: user(prompt), max_tokens: maxTokens, temperature: 0, stream: true as const });
  const ollamaChat = (prompt: string) => ({ model, messages: user(prompt), stream: true as const, options: { num_predict: maxTokens, temperature: 0 } });
  return {
    'OpenAI chat completions': {
      path: '/v1/chat/completions',
      framing: 'sse',
      body: chat,
      read(event, into) {
        const content = event.choices?.[0]?.delta?.content;
        if (content) into.add(content);
        const usage = event.usage;
        if (usage) into.usage = { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, cachedPromptTokens: usage.prompt_tokens_details?.cached_tokens };
      },
      client: (prompt) => openai.chat.completions.create(chat(prompt)),
    },
    'OpenAI Responses': {
      path: '/v1/responses',
      framing: 'sse',
      body: responses,
      read(event, into) {
        if (event.type === 'response.output_text.delta' && event.delta) into.add(event.delta);
        const usage = event.type === 'response.completed' || event.type === 'response.incomplete' ? event.response?.usage : undefined;
        if (usage) into.usage = { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens, cachedPromptTokens: usage.input_tokens_details?.cached_tokens };
      },
      client: (prompt) => openai.responses.create(responses(prompt)),
    },
    'Anthropic Messages': {
      path: '/v1/messages',
      framing: 'sse',
      body: messages,
      read(event, into) {
        if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && event.delta.text) into.add(event.delta.text);
        if (event.type === 'message_start') into.usage.promptTokens = event.message?.usage?.input_tokens;
        if (event.type === 'message_delta') into.usage.completionTokens = event.usage?.output_tokens;
      },
      client: (prompt) => anthropic.messages.create(messages(prompt)),
    },
    'Ollama chat': {
      path: '/api/chat',
      framing: 'ndjson',
      body: ollamaChat,
      read(event, into) {
        if (!event.done && event.message?.content) into.add(event.message.content);
        if (event.done) into.usage = { promptTokens: event.prompt_eval_count, completionTokens: event.eval_count };
      },
      client: (prompt) => ollama.chat(ollamaChat(prompt)),
    },
  };
}

/** The JSON events of a streamed response, split by hand from its body (`[DONE]` and SSE `event:` lines skipped). */
async function* rawEvents(response: Response, framing: Api['framing'], into: Arrivals): AsyncGenerator<Event> {
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  let pending = '';
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    into.bytes += bytes.byteLength;
    pending += decoder.decode(bytes, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const data = framing === 'ndjson' ? line : line.startsWith('data:') ? line.slice(5).trimStart() : '';
      if (data !== '' && data !== '[DONE]') yield JSON.parse(data);
    }
  }
}

async function consume(events: AsyncIterable<Event>, api: Api, into: Arrivals): Promise<Arrivals> {
  for await (const event of events) {
    into.events++;
    api.read(event, into);
  }
  return into;
}

/**
 * Per API, two streams: `<API>, client` (its own client library) and `<API>, no client` (fetch and
 * a line split), against the server at `url`.
 */
export function httpStreams(url: string, model: string, maxTokens: number): Record<string, Stream> {
  const streams: Record<string, Stream> = {};
  for (const [name, api] of Object.entries(apis(url, model, maxTokens))) {
    streams[`${name}, client`] = async (prompt) => {
      const into = new Arrivals();
      return consume(await api.client(prompt), api, into);
    };
    streams[`${name}, no client`] = async (prompt) => {
      const into = new Arrivals();
      const response = await fetch(`${url}${api.path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(api.body(prompt)) });
      return consume(rawEvents(response, api.framing, into), api, into);
    };
  }
  return streams;
}

/** The same generation in process: `router.streamAsk`, counting the token events with text (what the routes forward). */
export function inProcessStream(router: MessageRouter, model: Address, maxTokens: number): Stream {
  return async (prompt) => {
    const into = new Arrivals();
    const result = await router.streamAsk(
      model,
      ModelMessage.Generate,
      { messages: [{ role: 'user', content: prompt }], params: { maxTokens, temperature: 0 } },
      {
        onChunk: (event) => {
          into.events++;
          if (event.type === 'token' && event.content) into.add(event.content);
          if (event.type === 'done') into.usage = { ...(event.usage as Usage | undefined) };
        },
      },
    );
    if (result.error) throw result.error;
    return into;
  };
}
