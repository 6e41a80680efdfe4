import { Actor } from '../../messaging/Actor.js';
import { UnsupportedMessageError } from '../../messaging/errors.js';
import type { Message } from '../../messaging/Message.js';
import type { ActorContext } from '../../messaging/types.js';
import { HostMessage, hostProtocol, type HostStats } from './types.js';

/**
 * @internal The actor beside the ModelActor in a host process: answers the parent's questions about
 * the process itself (its memory, the model's load progress), which the ModelActor cannot.
 */
export class HostActor extends Actor {
  override readonly protocol = hostProtocol;
  /** The model's load progress, 0 to 1. */
  loadProgress = 0;
  /** The model's lifecycle state, as it reported it. */
  modelState = 'unloaded';

  override receive(message: Message, context: ActorContext): HostStats {
    if (message.type !== HostMessage.Stats) throw new UnsupportedMessageError(context.self.slice(2, -1), message.type);
    return { pid: process.pid, rssBytes: process.memoryUsage.rss(), loadProgress: this.loadProgress, modelState: this.modelState };
  }
}
