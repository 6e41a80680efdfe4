import OpenAI from 'openai';
import { expect } from 'vitest';
import { startTestServer, type TestServer } from './testServer.js';

/** @internal The greedy request fields the Responses tests share: the same prompt gives the same text. */
export const greedy = { model: 'tiny', temperature: 0 } as const;

/** A test server (see {@link startTestServer}) with an `openai` client on its `/v1`, and raw POSTs to `/v1/responses`. */
export async function startResponsesServer(...args: Parameters<typeof startTestServer>) {
  const server: TestServer = await startTestServer(...args);
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  await server.models.ensureStarted('tiny');
  /** POSTs a raw body to /v1/responses. */
  const post = (body: unknown, signal?: AbortSignal): Promise<Response> =>
    fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  return { server, client, post };
}

/** The SSE frames of a streamed response: each frame's `event:` name and parsed `data:`. */
export function frames(text: string): Array<{ event: string; data: Record<string, unknown> }> {
  return text
    .split('\n\n')
    .filter((frame) => frame.length > 0)
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      return { event: eventLine!.replace(/^event: /, ''), data: JSON.parse(dataLine!.replace(/^data: /, '')) as Record<string, unknown> };
    });
}

/** The OpenAI error a failed client call threw. */
export async function failure(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}
