import type { ChatMessage } from '../actors/ModelActor/types.js';
import { EntityNotFoundError } from '../entities/entityErrors.js';
import type { Store } from '../entities/store/Store.js';
import { ITEM_ID, type OutputItem, RESPONSE_ID, type ResponseObject } from './openaiResponsesObject.js';

/** @internal The store collection that holds stored responses, one document per response. */
export const RESPONSES_COLLECTION = 'responses';

/**
 * @internal A stored response: the Response object and the whole conversation it ends, so that a
 * request continuing it (`previous_response_id`) needs this one document, and deleting a response
 * leaves the responses that continued it whole.
 */
export interface StoredResponse {
  id: string;
  response: ResponseObject;
  /**
   * The conversation up to and including this response's output, without its `instructions`
   * (OpenAI does not carry a response's instructions over to the next one).
   */
  conversation: ChatMessage[];
  /** The first response of the conversation: the slot-affinity key its continuations share (KV cache reuse). */
  root: string;
}

type CallOptions = { signal?: AbortSignal };

/**
 * @internal The Responses API's stored responses, in the server's {@link Store} (`<dataDir>/responses/<id>.json`
 * with a data directory; memory otherwise). A stored response never changes: a request that
 * continues one stores a new response with the conversation so far, so two requests continuing the
 * same response are two branches that share nothing but their past.
 */
export class ResponseStore {
  constructor(private readonly store: Store) {}

  /** The stored response, or `ENTITY_NOT_FOUND` (404) naming the id. */
  async get(id: string, options: CallOptions = {}): Promise<StoredResponse> {
    const stored = RESPONSE_ID.test(id) ? await this.store.get<StoredResponse>(RESPONSES_COLLECTION, id, options) : undefined;
    if (!stored) throw new EntityNotFoundError(RESPONSES_COLLECTION, id);
    return stored;
  }

  /** Stores a response (once it has ended); resolves when it is durable. */
  async put(stored: StoredResponse, options: CallOptions = {}): Promise<void> {
    await this.store.put(RESPONSES_COLLECTION, stored.id, stored, options);
  }

  /** Forgets a response; false if there was none. Responses that continued it are kept. */
  async delete(id: string, options: CallOptions = {}): Promise<boolean> {
    return RESPONSE_ID.test(id) && this.store.delete(RESPONSES_COLLECTION, id, options);
  }

  /**
   * The output item an `item_reference` names (its id names its response), or `ENTITY_NOT_FOUND`
   * naming the item.
   */
  async item(itemId: string, options: CallOptions = {}): Promise<OutputItem> {
    const key = ITEM_ID.exec(itemId)?.[1];
    const stored = key === undefined ? undefined : await this.store.get<StoredResponse>(RESPONSES_COLLECTION, `resp_${key}`, options);
    const item = stored?.response.output.find((candidate) => candidate.id === itemId);
    if (!item) throw new EntityNotFoundError('response items', itemId);
    return item;
  }
}
