import type { ActorCell } from './ActorCell.js';
import { parseAddress } from './address.js';
import { AbortedError, type ActorError, ActorNotFoundError } from './errors.js';
import { GenerationStream } from './GenerationStream.js';
import type { Message } from './Message.js';
import { type JobHost, type RequestJob, StreamJob } from './RequestJob.js';
import { StreamChannel } from './StreamChannel.js';
import type { TokenStreamEvent } from './TokenStreamEvent.js';
import type { SendOptions, StreamRequestOptions } from './types.js';

/** @internal What opening a stream needs from its router, besides what its job needs. */
export interface StreamHost extends JobHost {
  now(): number;
  report(error: unknown, source: string): void;
  /** Passes an event the actor emitted to the inspector and the observers. */
  streamEvent(cell: ActorCell, request: Message, event: TokenStreamEvent): void;
  /** The protocol's refusal of `message`, already sent to dead letters; `undefined` if it is taken. */
  refuse(cell: ActorCell, message: Message, options: SendOptions): ActorError | undefined;
  /** Puts `job` in the cell's mailbox; throws (after the dead letter) when the mailbox is full. */
  admit(cell: ActorCell, job: RequestJob): void;
}

/** @internal A stream request with its options checked, its envelope made and its cell looked up. */
export interface StreamRequest {
  readonly message: Message;
  /** `undefined` when no actor is registered at `message.to` (the dead letter is already sent). */
  readonly cell: ActorCell | undefined;
  readonly highWaterMark: number;
  readonly timeout: number;
  readonly options: StreamRequestOptions;
}

/**
 * @internal Opens the channel and the {@link GenerationStream} of one stream request and puts its
 * job in the actor's mailbox. The stream is returned in every case: a request that cannot be
 * delivered (no actor, refused by its protocol, an aborted signal, a full mailbox) gets a stream
 * that rejects with the reason, so routing errors reach the caller where stream errors do.
 */
export function openStream(host: StreamHost, request: StreamRequest): GenerationStream {
  const { message, cell, highWaterMark, timeout, options } = request;
  const what = `stream ${message.type} to ${message.to}`;
  let job: StreamJob | undefined;
  const channel = new StreamChannel(message.id, {
    highWaterMark,
    // A producer that does not await onChunk gets this much slack before its stream fails.
    maxBuffered: highWaterMark * 16,
    now: () => host.now(),
    onEvent: (event) => {
      if (cell) host.streamEvent(cell, message, event);
    },
    onEnd: (error) => job?.ended(error),
  });
  const stream = new GenerationStream(
    channel,
    (reason) => job?.cancel(new AbortedError(what, { cause: reason })),
    (error, source) => host.report(error, source),
  );
  // A protocol refusal is a dead letter (sent by refuse); an unknown actor's was sent at lookup.
  let refusal = cell ? host.refuse(cell, message, options) : new ActorNotFoundError(parseAddress(message.to));
  if (!refusal && options.signal?.aborted) refusal = new AbortedError(what, { cause: options.signal.reason });
  if (!refusal && cell) {
    job = new StreamJob(host, cell, message);
    job.channel = channel;
    try {
      host.admit(cell, job);
      job.armTimeout(timeout, what);
      job.linkSignal(options.signal, what);
    } catch (error) {
      job = undefined;
      refusal = error as ActorError;
    }
  }
  if (refusal) channel.reject(refusal);
  return stream;
}

/**
 * @internal A stream that never reached an actor: it has no events, and its first `next()` and its
 * awaited result reject with `error` (an invalid address, type or option).
 */
export function rejectedStream(
  host: Pick<StreamHost, 'now' | 'report'>,
  id: string,
  error: ActorError,
): GenerationStream {
  const channel = new StreamChannel(id, {
    highWaterMark: 1,
    maxBuffered: 1,
    now: () => host.now(),
    onEvent: () => {},
    onEnd: () => {},
  });
  channel.reject(error);
  return new GenerationStream(channel, () => {}, (e, source) => host.report(e, source));
}
