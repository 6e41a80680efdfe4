/**
 * llama-actors: an actor runtime in front of local LLM inference.
 * This file is the package's whole public surface; anything not exported here is internal.
 */

// The actor kernel (no LLM knowledge).
export { Actor, type ActorSource } from './messaging/Actor.js';
export { ActorStatus } from './messaging/actorLifecycle.js';
export { address, isAddress, parseAddress, MAX_ACTOR_ID_LENGTH, type Address } from './messaging/address.js';
export { systemClock, type Clock } from './messaging/Clock.js';
export { DeadLetterReason, type DeadLetter } from './messaging/DeadLetter.js';
export {
  AbortedError,
  ActorAlreadyRegisteredError,
  ActorError,
  ActorFailedError,
  ActorNotFoundError,
  ActorStoppedError,
  ConsumerFailedError,
  DisposedError,
  ErrorCode,
  InvalidAddressError,
  InvalidArgumentError,
  MailboxFullError,
  StreamNotSupportedError,
  StreamOverflowError,
  TimeoutError,
  UnsupportedMessageError,
} from './messaging/errors.js';
export type { GenerationResult } from './messaging/GenerationResult.js';
export { GenerationStream } from './messaging/GenerationStream.js';
export { InspectionEventType, type InspectionEvent, type Inspector } from './messaging/inspection.js';
export { createMessage, MessagePattern, type Message } from './messaging/Message.js';
export {
  MessageRouter,
  type ActorEmission,
  type EmissionListener,
  type MessageRouterOptions,
  type SubscribeOptions,
  type UnregisterOptions,
} from './messaging/MessageRouter.js';
export {
  defaultDecider,
  SupervisionDirective,
  type SupervisionPolicy,
} from './messaging/SupervisionPolicy.js';
export {
  FinishReason,
  StreamEventType,
  type StreamCallback,
  type TokenStreamEvent,
  type TokenStreamEventInput,
  type TokenUsage,
} from './messaging/TokenStreamEvent.js';
export type {
  ActorContext,
  ActorLifecycleContext,
  ActorOptions,
  ActorRouter,
  AskOptions,
  SendOptions,
  StateReporter,
  StreamOptions,
  StreamRequestOptions,
} from './messaging/types.js';

// The ModelActor: one owner per GGUF model.
export { defaultSlots, defaultThreads, ModelActor } from './actors/ModelActor/ModelActor.js';
export {
  EmbeddingsDisabledError,
  EmptyPromptError,
  InvalidModelFileError,
  InvalidParameterError,
  ModelErrorCode,
  ModelFileNotFoundError,
  ModelLoadError,
  ModelNotReadyError,
  PromptTooLongError,
  QueueFullError,
} from './actors/ModelActor/modelErrors.js';
export {
  ModelLifecycleState,
  ModelMessage,
  type ChatMessage,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerationParams,
  type GenerationUsage,
  type LoadProgressListener,
  type ModelActorOptions,
  type ModelInfo,
  type ModelStatus,
  type RepeatPenaltyParams,
} from './actors/ModelActor/types.js';
