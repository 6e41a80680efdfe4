import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/index.js';
import { failure, greedy, startResponsesServer } from './helpers/responsesServer.js';
import type { TestServer } from './helpers/testServer.js';

/**
 * Stored responses of the Responses API: `previous_response_id` continues one (the token counts
 * show the model was given the earlier turns), `item_reference` names a stored output item,
 * continuations branch without touching their parent, `GET` / `DELETE`, `store: false`, and a
 * FileStore keeps them across a restart.
 */
let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  ({ server, client } = await startResponsesServer());
}, 300_000);

afterAll(async () => {
  await server?.dispose();
});

describe('previous_response_id, GET and DELETE', () => {
  const base = { ...greedy, max_output_tokens: 4 };

  it('continues the stored conversation: the prompt is the earlier turns plus the new input (its instructions not carried over)', async () => {
    const first = await client.responses.create({ ...base, input: 'My name is Ada.', instructions: 'Be brief.' });
    const second = await client.responses.create({ ...base, input: 'What is my name?', previous_response_id: first.id });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.instructions).toBeNull();
    // The model saw the first turn: the same prompt as the whole conversation sent explicitly, without the instructions.
    const explicit = await client.responses.create({
      ...base,
      input: [
        { role: 'user', content: 'My name is Ada.' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'What is my name?' },
      ],
    });
    expect(second.usage!.input_tokens).toBe(explicit.usage!.input_tokens);
    expect(second.output_text).toBe(explicit.output_text);
    const alone = await client.responses.create({ ...base, input: 'What is my name?' });
    expect(second.usage!.input_tokens).toBeGreaterThan(alone.usage!.input_tokens + first.usage!.output_tokens);
    // A third turn builds on both.
    const third = await client.responses.create({ ...base, input: 'And again?', previous_response_id: second.id });
    expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens + second.usage!.output_tokens);
    // The continuation prefers the slot holding the conversation: its earlier turns come from the KV cache.
    expect(third.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('an item_reference names a stored output item: the same prompt as its text', async () => {
    const first = await client.responses.create({ ...base, input: 'My name is Ada.' });
    const byReference = await client.responses.create({
      ...base,
      input: [{ role: 'user', content: 'My name is Ada.' }, { type: 'item_reference', id: first.output[0]!.id! }, { role: 'user', content: 'Who am I?' }],
    });
    const explicit = await client.responses.create({
      ...base,
      input: [
        { role: 'user', content: 'My name is Ada.' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'Who am I?' },
      ],
    });
    expect(byReference.usage!.input_tokens).toBe(explicit.usage!.input_tokens);
    const unknown = await failure(client.responses.create({ ...base, input: [{ type: 'item_reference', id: `msg_${'x'.repeat(24)}_0` }] }));
    expect(unknown.status).toBe(404);
    expect(unknown.code).toBe('ENTITY_NOT_FOUND');
  });

  it('two requests continuing the same response are two branches: each keeps its own turn, the parent is unchanged', async () => {
    const root = await client.responses.create({ ...base, input: 'Start.' });
    const [left, right] = await Promise.all([
      client.responses.create({ ...base, input: 'Left branch, a longer message than the other.', previous_response_id: root.id }),
      client.responses.create({ ...base, input: 'Right.', previous_response_id: root.id }),
    ]);
    expect(left.id).not.toBe(right.id);
    const leftNext = await client.responses.create({ ...base, input: 'Next.', previous_response_id: left.id });
    const rightNext = await client.responses.create({ ...base, input: 'Next.', previous_response_id: right.id });
    const explicitLeft = await client.responses.create({
      ...base,
      input: [
        { role: 'user', content: 'Start.' },
        { role: 'assistant', content: root.output_text },
        { role: 'user', content: 'Left branch, a longer message than the other.' },
        { role: 'assistant', content: left.output_text },
        { role: 'user', content: 'Next.' },
      ],
    });
    expect(leftNext.usage!.input_tokens).toBe(explicitLeft.usage!.input_tokens);
    expect(rightNext.usage!.input_tokens).toBeLessThan(leftNext.usage!.input_tokens);
    // The parent still continues from where it was.
    const again = await client.responses.create({ ...base, input: 'Right.', previous_response_id: root.id });
    expect(again.usage!.input_tokens).toBe(right.usage!.input_tokens);
    expect((await client.responses.retrieve(root.id)).output_text).toBe(root.output_text);
  });

  it('GET returns the stored response; DELETE forgets it (404 after), and what continued it stays whole', async () => {
    const first = await client.responses.create({ ...base, input: 'hello', metadata: { k: 'v' } });
    const stored = await client.responses.retrieve(first.id);
    expect(stored).toEqual(first);
    const second = await client.responses.create({ ...base, input: 'more', previous_response_id: first.id });
    const deleted = await fetch(`${server.url}/v1/responses/${first.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: first.id, object: 'response.deleted', deleted: true });
    const gone = await failure(client.responses.retrieve(first.id));
    expect(gone.status).toBe(404);
    expect(gone.error).toMatchObject({ type: 'not_found_error', code: 'ENTITY_NOT_FOUND', message: `response not found: @(${first.id})` });
    expect((await fetch(`${server.url}/v1/responses/${first.id}`, { method: 'DELETE' })).status).toBe(404);
    const continued = await failure(client.responses.create({ ...base, input: 'x', previous_response_id: first.id }));
    expect(continued.status).toBe(404);
    // The second response holds the whole conversation: it still continues.
    const third = await client.responses.create({ ...base, input: 'again', previous_response_id: second.id });
    expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens);
  });

  it('store: false is not kept: GET and previous_response_id answer 404; an unknown or malformed id is 404', async () => {
    const unstored = await client.responses.create({ ...base, input: 'hello', store: false });
    expect((unstored as unknown as { store: boolean }).store).toBe(false);
    expect((await failure(client.responses.retrieve(unstored.id))).status).toBe(404);
    const continued = await failure(client.responses.create({ ...base, input: 'x', previous_response_id: unstored.id }));
    expect(continued.status).toBe(404);
    expect(continued.message).toContain(unstored.id);
    for (const id of ['resp_unknown', `resp_${'A'.repeat(24)}`, 'resp_a..b', 'x'.repeat(300)]) {
      const response = await fetch(`${server.url}/v1/responses/${encodeURIComponent(id)}`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ENTITY_NOT_FOUND');
    }
  });

  it('with a FileStore, stored responses outlive the server and continue after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'responses-'));
    try {
      const firstStore = new FileStore({ dataDir });
      const { server: before, client: firstClient } = await startResponsesServer({}, { store: firstStore });
      const first = await firstClient.responses.create({ ...base, input: 'remember me' });
      await before.dispose();
      await firstStore.dispose();
      const secondStore = new FileStore({ dataDir });
      const { server: after, client: secondClient } = await startResponsesServer({}, { store: secondStore });
      try {
        expect(await secondClient.responses.retrieve(first.id)).toEqual(first);
        const next = await secondClient.responses.create({ ...base, input: 'again', previous_response_id: first.id });
        expect(next.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);
      } finally {
        await after.dispose();
        await secondStore.dispose();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
