/**
 * The llama-server test helper against a real llama.cpp `llama-server` (built from the source
 * node-llama-cpp bundles; the first run builds it, several minutes): chat completions streamed and
 * not, `/slots` during a stream and after its abort, embeddings, the API key, what the server
 * answers to an image with no projector, and an image through a generated projector.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyProjector } from '../../scripts/makeProjector.js';
import { ensureDemoModel, ensureTinyModel } from '../../scripts/make-models.js';
import { type LlamaServerProcess, startLlamaServer } from './helpers/llamaServer.js';

/** A real 2×2 RGB PNG (red, green / blue, white). */
const PNG_2X2 = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFElEQVR4nGP4z8DAAMIM/////w8AH+4F+7C4l8kAAAAASUVORK5CYII=';
const IMAGE_PART = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_2X2}` } } as const;
/** llama-server's answer to an image part when no `--mmproj` is loaded (v0.5.0). */
const NO_MMPROJ_STATUS = 500;
const NO_MMPROJ_BODY = {
  error: {
    code: 500,
    message: 'image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
    type: 'server_error',
  },
};

let tiny: string;
let server: LlamaServerProcess;
let client: OpenAI;

beforeAll(async () => {
  tiny = await ensureTinyModel();
  // Context shift lets a generation run past the slot's context, so a stream lasts until aborted.
  server = await startLlamaServer({ model: tiny, slots: 2, extraArgs: ['--context-shift'] });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'none', maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startLlamaServer on the tiny model', () => {
  it('is ready on 127.0.0.1 with the slots asked for, each with the context split between them', async () => {
    expect(server.baseURL).toBe(`http://127.0.0.1:${server.port}/v1`);
    expect((await fetch(`${server.origin}/health`)).status).toBe(200);
    const slots = await server.slots();
    expect(slots.map((slot) => [slot.id, slot.is_processing, slot.n_ctx])).toEqual([
      [0, false, 512],
      [1, false, 512],
    ]);
    // The generated models carry a ChatML template, which the server uses for /v1/chat/completions.
    const props = (await (await fetch(`${server.origin}/props`)).json()) as { chat_template: string; modalities: unknown };
    expect(props.chat_template).toContain('<|im_start|>');
    expect(props.modalities).toMatchObject({ vision: false });
  });

  it('answers a chat completion', async () => {
    const completion = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hello there' }],
      max_tokens: 8,
    });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBe(8);
  });

  it('streams a chat completion', async () => {
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hello there' }],
      max_tokens: 12,
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
  });

  it('shows a slot processing during a long stream, and every slot idle soon after the client aborts', async () => {
    // llama-server extensions: ignore_eos so the stream does not end by itself; with context
    // shift, 200k tokens are tens of seconds of generation, far past the abort below.
    const body = {
      model: 'tiny',
      messages: [{ role: 'user' as const, content: 'Tell me a long story' }],
      max_tokens: 200_000,
      ignore_eos: true,
      stream: true as const,
    };
    const stream = await client.chat.completions.create(body);
    let chunks = 0;
    let abortedAt = 0;
    let sawProcessing = false;
    let finish: string | null | undefined;
    // openai 6: after controller.abort() the iteration just ends (it does not throw).
    for await (const chunk of stream) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (++chunks === 20) {
        sawProcessing = (await server.slots()).some((slot) => slot.is_processing);
        abortedAt = performance.now();
        stream.controller.abort();
      }
    }
    expect(chunks).toBeGreaterThanOrEqual(20);
    expect(finish).toBeFalsy();
    expect(sawProcessing).toBe(true);

    let idleAfterMs = Number.NaN;
    while (performance.now() - abortedAt < 5_000) {
      if ((await server.slots()).every((slot) => !slot.is_processing)) {
        idleAfterMs = performance.now() - abortedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    console.log(`llama-server: every slot idle ${idleAfterMs.toFixed(1)} ms after the client aborted the stream`);
    expect(idleAfterMs).toBeLessThan(2_000);
    expect(server.log()).toMatch(/stop processing/);
  });

  it(`answers ${NO_MMPROJ_STATUS} "image input is not supported" to an image part when no --mmproj is loaded`, async () => {
    for (const stream of [false, true]) {
      const response = await fetch(`${server.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          stream,
          max_tokens: 4,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, IMAGE_PART] }],
        }),
      });
      expect(response.status).toBe(NO_MMPROJ_STATUS);
      expect(await response.json()).toEqual(NO_MMPROJ_BODY);
    }
    // What the openai client makes of it.
    const error = await client.chat.completions
      .create({ model: 'tiny', max_tokens: 4, messages: [{ role: 'user', content: [IMAGE_PART] }] })
      .then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(500);
    expect((error as APIError).message).toContain(NO_MMPROJ_BODY.error.message);
  });
});

describe('startLlamaServer options', () => {
  it('serves /v1/embeddings with embeddings: true (mean pooling), one vector of the model width per input', async () => {
    await using embedder = await startLlamaServer({ model: tiny, embeddings: true });
    const openai = new OpenAI({ baseURL: embedder.baseURL, apiKey: 'none', maxRetries: 0 });
    const result = await openai.embeddings.create({ model: 'tiny', input: ['hello there', 'a model'], encoding_format: 'float' });
    expect(result.data.map((item) => item.embedding.length)).toEqual([64, 64]);
    expect(result.data[0]?.embedding).not.toEqual(result.data[1]?.embedding);
  });

  it('requires the API key on every route but /health when apiKey is given', async () => {
    await using secured = await startLlamaServer({ model: tiny, apiKey: 'sekret' });
    const denied = await fetch(`${secured.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    });
    expect(denied.status).toBe(401);
    expect((await fetch(`${secured.origin}/slots`)).status).toBe(401);
    expect(await secured.slots()).toHaveLength(1);
    const openai = new OpenAI({ baseURL: secured.baseURL, apiKey: 'sekret', maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(completion.usage?.completion_tokens).toBe(2);
  });

  it('serves the demo model too, whose bigram text ends by itself', async () => {
    await using demo = await startLlamaServer({ model: await ensureDemoModel(), contextSize: 1024 });
    const openai = new OpenAI({ baseURL: demo.baseURL, apiKey: 'none', maxRetries: 0 });
    const completion = await openai.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'Tell me about actors.' }],
      max_tokens: 400,
      temperature: 0,
    });
    expect(completion.choices[0]?.message.content).toMatch(/[a-z]+ [a-z]+/);
  });

  it('takes an image through a generated random-weight projector (--mmproj): 4 image tokens', async () => {
    await using vision = await startLlamaServer({ model: tiny, mmproj: await ensureTinyProjector() });
    const props = (await (await fetch(`${vision.origin}/props`)).json()) as { modalities: unknown };
    expect(props.modalities).toMatchObject({ vision: true });
    const openai = new OpenAI({ baseURL: vision.baseURL, apiKey: 'none', maxRetries: 0 });
    const ask = (content: OpenAI.ChatCompletionUserMessageParam['content']) =>
      openai.chat.completions.create({ model: 'tiny', max_tokens: 4, messages: [{ role: 'user', content }] });
    const text = await ask([{ type: 'text', text: 'What is this?' }]);
    const image = await ask([{ type: 'text', text: 'What is this?' }, IMAGE_PART]);
    expect(image.choices[0]?.message.content?.length).toBeGreaterThan(0);
    // (28 / 14)² patches, each one embedding in the prompt.
    expect(image.usage!.prompt_tokens - text.usage!.prompt_tokens).toBe(4);
  });

  it('stops the process (SIGTERM) and fails clearly, with its output, when the server cannot start', async () => {
    const short = await startLlamaServer({ model: tiny });
    await short.stop();
    expect(processAlive(short.pid)).toBe(false);
    await short.stop(); // idempotent

    await expect(startLlamaServer({ model: '/nonexistent/model.gguf' })).rejects.toThrow(
      /llama-server exited with \d+ before it was ready[\s\S]*--- its output ---[\s\S]*nonexistent/,
    );
  });
});
