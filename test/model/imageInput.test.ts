import Anthropic from '@anthropic-ai/sdk';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatMessage, ModelErrorCode, ModelMessage } from '../../src/index.js';
import { anthropicRequest } from '../../src/server/anthropicRequest.js';
import { generateInput, ollamaMessages } from '../../src/server/ollamaRequest.js';
import { chatMessages } from '../../src/server/openaiCompletionRequest.js';
import { inputItems } from '../../src/server/openaiResponsesInput.js';
import { startTestServer, type TestServer } from './helpers/testServer.js';

/**
 * Images travel through every HTTP API into the model's `messages` as image parts, and the local
 * model (no vision: node-llama-cpp takes no image input) is the one that refuses them, with
 * `MODALITY_NOT_SUPPORTED` (400) naming the model, in each API's own error shape, streaming or
 * not. A malformed image (a data URL that is not one, bad base64, a non-image media type) is
 * `INVALID_ARGUMENT` naming the field, before any model. A refused request disturbs nothing: text
 * still streams. Image `path`s come only from in-process callers: on the generic actor route a
 * path outside the allowed directories is 403 before the model sees it.
 */

/** A 1×1 PNG. */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const DATA_URL = `data:image/png;base64,${PNG}`;

let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;
let ollama: Ollama;
/** The name the model's refusal gives it: its file's. */
let modelName: string;
let outside: string;

beforeAll(async () => {
  server = await startTestServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  ollama = new Ollama({ host: server.url });
  modelName = basename(server.tinyPath);
  outside = await mkdtemp(join(tmpdir(), 'image-outside-'));
}, 120_000);
afterAll(async () => {
  await server?.dispose();
  if (outside) await rm(outside, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What a request answers when it throws (the clients throw on a 4xx). */
async function thrown(request: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    const result = await (typeof request === 'function' ? request() : request);
    // A stream: reading it is what fails, if the request itself did not.
    if (result && typeof result === 'object' && Symbol.asyncIterator in result) for await (const _ of result as AsyncIterable<unknown>);
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail');
}

const refusedMessage = () => expect.stringMatching(new RegExp(`model ${modelName.replace(/\./g, '\\.')} cannot take image input`));

/** The slots are free again and the model still serves: nothing a refusal did stayed behind. */
async function expectIdle(): Promise<void> {
  const status = await server.status();
  expect(status.busySlots).toBe(0);
  expect(status.queueDepth).toBe(0);
}

describe('what each route reads into the messages', () => {
  const image = { type: 'image', data: PNG, mimeType: 'image/png' };

  it('text-only content is the plain string it was before images were read, text parts joined', () => {
    const parts = [{ type: 'text', text: 'Say ' }, { type: 'text', text: 'hello' }];
    expect(chatMessages({ messages: [{ role: 'system', content: parts }, { role: 'user', content: parts }, { role: 'user', content: 'hi' }] })).toEqual([
      { role: 'system', content: 'Say hello' },
      { role: 'user', content: 'Say hello' },
      { role: 'user', content: 'hi' },
    ]);
    expect(anthropicRequest({ model: 'tiny', max_tokens: 3, messages: [{ role: 'user', content: parts }] }).messages).toEqual([{ role: 'user', content: 'Say hello' }]);
    expect(ollamaMessages({ messages: [{ role: 'user', content: 'hi', images: [] }, { role: 'user', content: 'hi', images: null }] })).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'user', content: 'hi' },
    ]);
    expect(generateInput({ prompt: 'hi', images: [] })).toEqual({ messages: [{ role: 'user', content: 'hi' }] });
    expect(inputItems([{ role: 'user', content: [{ type: 'input_text', text: 'Say ' }, { type: 'input_text', text: 'hello' }] }])).toEqual([{ kind: 'message', role: 'user', content: 'Say hello' }]);
  });

  it('an image is an image part in place, as data + mimeType or url, never a path', () => {
    const openaiParts = [
      { type: 'text', text: 'a' },
      { type: 'image_url', image_url: { url: DATA_URL }, path: '/etc/passwd' },
      { type: 'text', text: 'b' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png', path: '/etc/passwd' } },
    ];
    expect(chatMessages({ messages: [{ role: 'user', content: openaiParts }] })).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'a' }, image, { type: 'text', text: 'b' }, { type: 'image', url: 'https://example.com/cat.png' }] },
    ]);
    const blocks = [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG, path: '/etc/passwd' } }, { type: 'text', text: 'what?' }];
    expect(anthropicRequest({ model: 'tiny', max_tokens: 3, messages: [{ role: 'user', content: blocks }] }).messages).toEqual([{ role: 'user', content: [image, { type: 'text', text: 'what?' }] }]);
    expect(ollamaMessages({ messages: [{ role: 'user', content: 'what?', images: [PNG, PNG] }] })).toEqual([
      { role: 'user', content: [{ type: 'image', data: PNG }, { type: 'image', data: PNG }, { type: 'text', text: 'what?' }] },
    ]);
    expect(generateInput({ prompt: 'what?', system: 'be brief', images: [PNG] })).toEqual({
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'image', data: PNG }, { type: 'text', text: 'what?' }] }],
    });
    expect(inputItems([{ role: 'user', content: [{ type: 'input_image', image_url: DATA_URL }] }])).toEqual([{ kind: 'message', role: 'user', content: [image] }]);
  });
});

describe('OpenAI chat completions: image_url parts', () => {
  const ask = (url: string, stream: boolean) =>
    openai.chat.completions.create({
      model: 'tiny',
      max_tokens: 3,
      stream,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url, detail: 'low' } }] }],
    });

  it('a data URL and an http URL reach the model, which refuses them: 400 MODALITY_NOT_SUPPORTED naming it, whole and streamed', async () => {
    for (const url of [DATA_URL, 'https://example.com/cat.png']) {
      for (const stream of [false, true]) {
        const error = await thrown(() => ask(url, stream));
        expect(error, `${url} stream ${stream}`).toBeInstanceOf(OpenAI.BadRequestError);
        expect((error as InstanceType<typeof OpenAI.BadRequestError>).error, `${url} stream ${stream}`).toMatchObject({
          code: ModelErrorCode.ModalityNotSupported,
          type: 'invalid_request_error',
          message: refusedMessage(),
        });
      }
    }
    // The raw body is OpenAI's shape.
    const raw = await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: DATA_URL } }] }] });
    expect(raw.status).toBe(400);
    expect(raw.body).toEqual({ error: { code: 'MODALITY_NOT_SUPPORTED', type: 'invalid_request_error', param: null, message: expect.stringContaining('messages[0].content[0]') } });
    await expectIdle();
  });

  it('a URL that is neither a data:image base64 URL nor http(s), or bad base64, is 400 INVALID_ARGUMENT naming the field', async () => {
    const field = 'messages[0].content[1].image_url.url';
    for (const url of ['data:image/png;base64,not base64!', 'data:image/png;base64,', 'data:image/png;base64,AAA', 'data:text/plain;base64,AAAA', 'data:image/png,AAAA', 'ftp://example.com/cat.png', 'cat.png', '/etc/passwd']) {
      for (const stream of [false, true]) {
        const error = await thrown(() => ask(url, stream));
        expect(error, url).toBeInstanceOf(OpenAI.BadRequestError);
        expect((error as InstanceType<typeof OpenAI.BadRequestError>).error, url).toMatchObject({ code: 'INVALID_ARGUMENT', param: field, message: expect.stringContaining(field) });
      }
    }
    // An image outside a user message, and an image part without its url.
    const system = await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: DATA_URL } }] }, { role: 'user', content: 'hi' }] });
    expect(system).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', param: 'messages[0].content[0]' } } });
    const noUrl = await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] });
    expect(noUrl).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', param: 'messages[0].content[0].image_url.url' } } });
  });

  it('text parts alone are the same request as their text joined', async () => {
    const asked = (content: string | Array<{ type: 'text'; text: string }>) =>
      openai.chat.completions.create({ model: 'tiny', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content }] });
    const [parts, joined] = [await asked([{ type: 'text', text: 'Say ' }, { type: 'text', text: 'hello' }]), await asked('Say hello')];
    expect(parts.choices[0]?.message.content).toBe(joined.choices[0]?.message.content);
    expect(parts.usage?.prompt_tokens).toBe(joined.usage?.prompt_tokens);
  });
});

describe('OpenAI Responses: input_image parts', () => {
  const input = (image_url: string) => [{ role: 'user' as const, content: [{ type: 'input_text' as const, text: 'what is this?' }, { type: 'input_image' as const, image_url, detail: 'auto' as const }] }];

  it('reaches the model, which refuses it (400 MODALITY_NOT_SUPPORTED), whole and streamed; a bad image_url is INVALID_ARGUMENT naming it', async () => {
    for (const stream of [false, true]) {
      const error = await thrown(() => openai.responses.create({ model: 'tiny', max_output_tokens: 3, stream, input: input(DATA_URL) }));
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'MODALITY_NOT_SUPPORTED', message: refusedMessage() });
      const bad = await thrown(() => openai.responses.create({ model: 'tiny', max_output_tokens: 3, stream, input: input('data:image/png;base64,%%%') }));
      expect((bad as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'INVALID_ARGUMENT', param: 'input[0].content[1].image_url' });
    }
    await expectIdle();
  });
});

describe('Anthropic: image blocks', () => {
  type Source = Anthropic.Base64ImageSource | Anthropic.URLImageSource;
  const ask = (source: Source, stream: boolean) =>
    anthropic.messages.create({ model: 'tiny', max_tokens: 3, stream, messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', source }] }] });
  const base64 = (data: string, media_type = 'image/png'): Source => ({ type: 'base64', media_type: media_type as 'image/png', data });

  it('base64 and url sources reach the model, which refuses them: 400 MODALITY_NOT_SUPPORTED in Anthropic\'s shape, whole, streamed and counted', async () => {
    for (const source of [base64(PNG), { type: 'url', url: 'https://example.com/cat.png' } as const]) {
      for (const stream of [false, true]) {
        const error = await thrown(() => ask(source, stream));
        expect(error, `${source.type} stream ${stream}`).toBeInstanceOf(Anthropic.BadRequestError);
        expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
          type: 'error',
          error: { type: 'invalid_request_error', code: 'MODALITY_NOT_SUPPORTED', message: refusedMessage() },
        });
      }
    }
    const counted = await thrown(() => anthropic.messages.countTokens({ model: 'tiny', messages: [{ role: 'user', content: [{ type: 'image', source: base64(PNG) }] }] }));
    expect((counted as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({ type: 'error', error: { code: 'MODALITY_NOT_SUPPORTED' } });
    await expectIdle();
  });

  it('bad base64, a non-image media type, a url that is not http(s) or a missing source are 400 INVALID_ARGUMENT naming the field', async () => {
    const cases: Array<[Source | undefined, string]> = [
      [base64('not base64!'), 'messages[0].content[1].source.data'],
      [base64(''), 'messages[0].content[1].source.data'],
      [base64(PNG, 'text/html'), 'messages[0].content[1].source.media_type'],
      [{ type: 'url', url: 'file:///etc/passwd' }, 'messages[0].content[1].source.url'],
      [undefined, 'messages[0].content[1].source'],
    ];
    for (const [source, field] of cases) {
      for (const stream of [false, true]) {
        const error = await thrown(() => ask(source as Source, stream));
        expect(error, field).toBeInstanceOf(Anthropic.BadRequestError);
        expect((error as InstanceType<typeof Anthropic.BadRequestError>).error, field).toMatchObject({
          type: 'error',
          error: { type: 'invalid_request_error', code: 'INVALID_ARGUMENT', message: expect.stringContaining(field) },
        });
      }
    }
  });
});

describe('Ollama: images', () => {
  it('images on a chat message and on /api/generate reach the model, which refuses them: 400 {error} naming it, streamed or not', async () => {
    for (const stream of [false, true] as const) {
      const chat = await thrown(() => ollama.chat({ model: 'tiny', stream: stream as false, messages: [{ role: 'user', content: 'what is this?', images: [PNG] }], options: { num_predict: 3 } }));
      expect(chat).toMatchObject({ name: 'ResponseError', status_code: 400, error: refusedMessage() });
      const generate = await thrown(() => ollama.generate({ model: 'tiny', stream: stream as false, prompt: 'what is this?', images: [PNG], options: { num_predict: 3 } }));
      expect(generate).toMatchObject({ name: 'ResponseError', status_code: 400, error: refusedMessage() });
    }
    // The raw body is Ollama's shape, and an image without text is still a request (not a load).
    const raw = await post('/api/generate', { model: 'tiny', prompt: '', images: [PNG], stream: false });
    expect(raw).toEqual({ status: 400, body: { error: expect.stringContaining('cannot take image input') } });
    await expectIdle();
  });

  it('bad base64 is 400 naming the image; images beside a raw prompt or on a non-user message are refused by name', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['/api/chat', { messages: [{ role: 'user', content: 'hi', images: [PNG, 'not base64!'] }] }, 'messages[0].images[1]'],
      ['/api/chat', { messages: [{ role: 'assistant', content: 'hi', images: [PNG] }, { role: 'user', content: 'hi' }] }, 'messages[0].images'],
      ['/api/generate', { prompt: 'hi', images: ['AAA'] }, 'images[0]'],
      ['/api/generate', { prompt: 'hi', raw: true, images: [PNG] }, 'images'],
    ];
    for (const [route, body, field] of cases) {
      for (const stream of [false, true]) {
        const answer = await post(route, { model: 'tiny', stream, ...body });
        expect(answer, `${route} ${field}`).toEqual({ status: 400, body: { error: expect.stringContaining(field) } });
      }
    }
  });
});

describe('after the refusals', () => {
  it('text-only requests still stream on every API', async () => {
    let openaiText = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'tiny', max_tokens: 4, stream: true, messages: [{ role: 'user', content: 'Say hello' }] })) {
      openaiText += chunk.choices[0]?.delta.content ?? '';
    }
    expect(openaiText.length).toBeGreaterThan(0);
    let anthropicText = '';
    for await (const event of await anthropic.messages.create({ model: 'tiny', max_tokens: 4, stream: true, messages: [{ role: 'user', content: 'Say hello' }] })) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') anthropicText += event.delta.text;
    }
    expect(anthropicText.length).toBeGreaterThan(0);
    let ollamaText = '';
    for await (const part of await ollama.chat({ model: 'tiny', stream: true, messages: [{ role: 'user', content: 'Say hello' }], options: { num_predict: 4 } })) ollamaText += part.message.content;
    expect(ollamaText.length).toBeGreaterThan(0);
    await expectIdle();
  });
});

describe('in process and on the generic actor route', () => {
  const withImage = (image: Record<string, unknown>): ChatMessage[] => [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', ...image }] },
  ];

  it('the ModelActor refuses an image part with ModalityNotSupportedError naming the model and where the image was', async () => {
    const model = server.router;
    const expected = { code: 'MODALITY_NOT_SUPPORTED', message: expect.stringContaining(`model ${modelName} cannot take image input (messages[1].content[1])`) };
    await expect(model.ask('model/tiny', ModelMessage.Generate, { messages: withImage({ data: PNG, mimeType: 'image/png' }), params: { maxTokens: 2 } })).rejects.toMatchObject(expected);
    await expect(model.ask('model/tiny', ModelMessage.TokenizeChat, { messages: withImage({ url: 'https://example.com/cat.png' }) })).rejects.toMatchObject(expected);
    await expect(model.ask('model/tiny', ModelMessage.CountPromptTokens, { messages: withImage({ data: PNG }) })).rejects.toMatchObject(expected);
    await expectIdle();
  });

  it('POST /actors/model/tiny/ask: an image path outside the allowed directories is 403 before the model; one inside reaches it (and is refused as an image)', async () => {
    const secret = join(outside, 'secret.png');
    await writeFile(secret, Buffer.from(PNG, 'base64'));
    for (const type of [ModelMessage.Generate, ModelMessage.TokenizeChat, ModelMessage.CountPromptTokens]) {
      const refused = await post('/actors/model/tiny/ask', { type, payload: { messages: withImage({ path: secret }), ...(type === ModelMessage.Generate ? { params: { maxTokens: 2 } } : {}) } });
      expect(refused.status, type).toBe(403);
      expect(refused.body.error, type).toMatchObject({ code: 'PATH_NOT_ALLOWED', message: expect.stringContaining('messages[].content[].path path is outside') });
    }
    // Inside the models directory: delivered, and the model refuses the image, not the path.
    const inside = await post('/actors/model/tiny/ask', { type: ModelMessage.Generate, payload: { messages: withImage({ path: server.tinyPath }), params: { maxTokens: 2 } } });
    expect(inside.status).toBe(400);
    expect(inside.body.error).toMatchObject({ code: 'MODALITY_NOT_SUPPORTED' });
    await expectIdle();
  });
});
