import { ModelDirectoryMessage, modelDirectoryProtocol } from '../actors/ModelDirectory/modelDirectoryProtocol.js';
import { Actor } from '../messaging/Actor.js';
import type { Address } from '../messaging/address.js';
import { InvalidArgumentError } from '../messaging/errors.js';
import type { Message } from '../messaging/Message.js';
import type { ActorContext } from '../messaging/types.js';

/**
 * The model directory as an actor: answers `ensureStarted` with the address of a model's running
 * actor, starting it through the ModelManager that registered it. Actors reach models through
 * this message, never by calling the manager.
 */
export class ModelDirectoryActor extends Actor {
  override readonly protocol = modelDirectoryProtocol;

  constructor(private readonly ensureStarted: (model: string, options: { signal: AbortSignal }) => Promise<Address>) {
    super();
  }

  override async receive(message: Message, context: ActorContext): Promise<unknown> {
    if (message.type !== ModelDirectoryMessage.EnsureStarted) return super.receive(message, context);
    const model = (message.payload as { model?: unknown } | null)?.model;
    if (typeof model !== 'string') throw new InvalidArgumentError('ensureStarted needs { model: string }');
    return this.ensureStarted(model, { signal: context.signal });
  }
}
