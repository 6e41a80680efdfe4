/**
 * llama-actors: an actor runtime in front of local LLM inference.
 * This file is the package's whole public surface; anything not exported here is internal.
 */

// The actor kernel (no LLM knowledge).
export { Actor, type ActorSource } from './messaging/Actor.js';
export { ActorStatus } from './messaging/actorLifecycle.js';
export { ActorRef, type EventOf, type RefStreamOptions } from './messaging/ActorRef.js';
export {
  defineProtocol,
  Lane,
  messageSpec,
  type AskType,
  type MessageShape,
  type MessageSpec,
  type MessageType,
  type PayloadOf,
  type Protocol,
  type ProtocolShape,
  type ReplyOf,
  type StreamOf,
  type StreamShape,
  type StreamType,
} from './messaging/protocol.js';
export { ActorKindMismatchError, ProtocolErrorCode } from './messaging/protocolErrors.js';
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
  ErrorKind,
  InvalidAddressError,
  isErrorKind,
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
  type DataIn,
  type DefaultStreamShape,
  type UsageIn,
  type StreamCallback,
  type TokenStreamEvent,
  type TokenStreamEventInput,
  type ToolCallDelta,
  type TopLogprob,
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
export { ModelActor } from './actors/ModelActor/ModelActor.js';
export { modelProtocol, type ModelProtocol } from './actors/ModelActor/modelProtocol.js';
export {
  MODEL_DIRECTORY_ADDRESS,
  ModelDirectoryMessage,
  modelDirectoryProtocol,
  type ModelDirectoryProtocol,
} from './actors/ModelDirectory/modelDirectoryProtocol.js';
export { chooseEngine, defaultSlots, defaultThreads } from './actors/ModelActor/modelDefaults.js';
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
  UnsupportedSchemaError,
  ModalityNotSupportedError,
} from './actors/ModelActor/modelErrors.js';
export {
  AdapterContextsFullError,
  AdapterErrorCode,
  AdapterFileNotFoundError,
  AdapterLoadError,
  AdapterNotAppliedError,
  IncompatibleAdapterError,
  NotAnAdapterError,
} from './actors/ModelActor/adapterErrors.js';
export { type AdapterInfo, validateAdapter, type ValidateAdapterOptions } from './actors/ModelActor/validateAdapter.js';
export { checkModelFile, type CheckModelFileOptions } from './gguf/checkModelFile.js';
export {
  ModelLifecycleState,
  ModelMessage,
  type AdapterContextInfo,
  type AdapterListing,
  type AdapterSpec,
  type AppliedAdapter,
  type ApplyAdapterRequest,
  type ChatTokens,
  type RemoveAdapterRequest,
  type ScoreRequest,
  type ScoreResult,
  type SetAdapterScaleRequest,
  type TokenizeChatRequest,
  type ChatMessage,
  type ChatContentPart,
  type ChatTextPart,
  type ChatImagePart,
  type ToolCall,
  type ToolChoice,
  type ToolDefinition,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerateStreamShape,
  type CountPromptTokensRequest,
  type GenerationParams,
  type GenerationUsage,
  type LoadProgressListener,
  type ModelActorOptions,
  type ModelInfo,
  type ModelEngine,
  type ModelStatus,
  type ModelClusterStatus,
  type ModelReplicaStatus,
  type RepeatPenaltyParams,
} from './actors/ModelActor/types.js';

// Models in supervised host processes (isolation 'process').
export { ModelHostActor } from './actors/ModelHost/ModelHostActor.js';
export {
  HostState,
  type HostedModelOptions,
  ModelIsolation,
  type ModelHostOptions,
  type ModelHostStatus,
} from './actors/ModelHost/types.js';
export { ModelHostCrashedError, ModelHostErrorCode, ModelHostStartError } from './actors/ModelHost/hostErrors.js';

// The TunerActor: adapters, training data, evaluation.
export { TunerActor } from './actors/TunerActor/TunerActor.js';
export { tunerProtocol, type TunerProtocol, type ValidateTrainingConfigRequest } from './actors/TunerActor/tunerProtocol.js';
export { validateTrainingConfig } from './actors/TunerActor/validateTrainingConfig.js';
export {
  InvalidBatchSizeError,
  InvalidEpochsError,
  InvalidLearningRateError,
  InvalidLoraRankError,
  InvalidTrainingConfigError,
  InvalidTrainingDataError,
  NotSupportedByBackendError,
  TrainingInProgressError,
  TrainingSessionErrorCode,
  TrainingSessionNotFoundError,
  TrainingStoppedError,
  TunerErrorCode,
  type TrainingDataProblem,
} from './actors/TunerActor/tunerErrors.js';
// The llama.cpp training backend, usable without the actor.
export { TrainerProcess, type TrainerProcessOptions, type TrainerRunOptions } from './actors/TunerActor/training/TrainerProcess.js';
export type { TrainingJob } from './actors/TunerActor/training/TrainingJob.js';
export type { EpochMetrics, TrainingOutcome, TrainingProgress, TrainingStartInfo } from './actors/TunerActor/training/TrainerMessage.js';
export type { TrainableTensors } from './actors/TunerActor/training/trainableTensors.js';
export {
  extractLora,
  type ExtractLoraOptions,
  type LoraExtractionResult,
  type LoraSkippedTensor,
  type LoraTensorReport,
} from './actors/TunerActor/training/extractLora.js';
export {
  InvalidTrainingJobError,
  LoraExtractionError,
  NativeLibraryNotFoundError,
  NoTrainableTensorsError,
  NotEnoughTokensError,
  QuantizedBaseModelError,
  TokenOutOfVocabularyError,
  TrainerBusyError,
  TrainerCrashedError,
  TrainerFailedError,
  TrainingErrorCode,
} from './actors/TunerActor/training/trainingErrors.js';
export {
  TunerMessage,
  TrainingSessionState,
  type StartTrainingRequest,
  type TrainingMetrics,
  type TrainingProgressEvent,
  type TrainingResult,
  type TrainingRunOptions,
  type TrainingStatus,
  type VariantEvaluation,
  type EvaluateRequest,
  type EvaluationProgress,
  type EvaluationResult,
  type ExampleLoss,
  type OverlongExample,
  type PrepareTrainingDataRequest,
  type QLoraConfig,
  type ResolvedTrainingConfig,
  type TrainingConfig,
  type TrainingConversation,
  type TrainingDataset,
  type TrainingExample,
  type TrainingMessage,
  type TunerActorOptions,
  type TunerStatus,
} from './actors/TunerActor/types.js';

// Sessions: conversations as actors.
export { SessionActor, type SessionActorOptions } from './actors/SessionActor/SessionActor.js';
export { sessionProtocol, type SessionProtocol } from './actors/SessionActor/sessionProtocol.js';
export {
  SessionMessage,
  type CompletionEvent,
  type InferenceRequest,
  type ToolResult,
  type InferenceResult,
  type SessionExport,
  type SessionHistory,
  type SessionStore,
  type StoredSession,
} from './actors/SessionActor/types.js';
export { ActorKind, entityName, kindAddress } from './entities/actorNames.js';

// Entities: providers, models, sessions and the store.
export {
  ContextOverflowError,
  DataDirLockedError,
  EntityErrorCode,
  EntityExistsError,
  EntityNotFoundError,
  InvalidEntityError,
  ModelLoadCrashedError,
  SessionConflictError,
  PromptNotFoundError,
  ProviderUnsupportedError,
} from './entities/entityErrors.js';
export type { InferenceProvider } from './entities/InferenceProvider.js';
export { LocalLlamaProvider, type LocalLlamaProviderOptions } from './entities/LocalLlamaProvider.js';
export { OpenAICompatibleProvider, type OpenAICompatibleProviderOptions } from './entities/OpenAICompatibleProvider.js';
export { RemoteModelActor } from './actors/RemoteModel/RemoteModelActor.js';
export type { RemoteModelOptions, RemoteModelStatus } from './actors/RemoteModel/types.js';
export {
  NotSupportedByProviderError,
  ProviderAuthFailedError,
  ProviderKeyMissingError,
  ProviderRejectedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  RateLimitedError,
  RemoteErrorCode,
  RemoteModelNotFoundError,
  type UpstreamOrigin,
} from './actors/RemoteModel/remoteErrors.js';
export { ModelManager, type InvokeModelOptions, type ModelManagerOptions } from './entities/ModelManager.js';
export { validateLoadOptions } from './entities/validateLoadOptions.js';
export {
  SessionManager,
  type CreateSessionOptions,
  type SessionManagerOptions,
  type SessionSummary,
  type SessionListReport,
  type SkippedSession,
} from './entities/SessionManager.js';
export {
  EntityCollection,
  ProviderKind,
  type ModelEntity,
  type ModelLoadMarker,
  type ModelLoadOptions,
  type OverflowPolicy,
  type ProviderEntity,
  type RemoteModelSpec,
  type RemoteProviderSettings,
  type SessionEntity,
  type Turn,
} from './entities/types.js';
export { FileStore, type FileStoreOptions } from './entities/store/FileStore.js';
export { MemoryStore } from './entities/store/MemoryStore.js';
export { NatsKvStore, type NatsKvStoreOptions } from './entities/store/NatsKvStore.js';
export { ProcessLocalCollections } from './entities/store/ProcessLocalCollections.js';
export { STORE_KEY_MAX_LENGTH, type Store, type StoreCallOptions, type StoreEntry } from './entities/store/Store.js';
export {
  InvalidStoreKeyError,
  StoreConflictError,
  StoreCorruptError,
  StoreDisposedError,
  StoreErrorCode,
  StoreUnavailableError,
  StoreWriteError,
  StoreIoError,
  type StoreCallSite,
  type StoreFsProblem,
  type StoreOperation,
} from './entities/store/storeErrors.js';

// Serving over HTTP.
export { createServer, type LlamaActorsServer, type ServerOptions } from './server/createServer.js';
export type { HttpLimits } from './server/httpLimits.js';
export { ServerMetrics } from './server/ServerMetrics.js';
export { MessageNotExposedError } from './server/MessageNotExposedError.js';
export { CorsOriginNotAllowedError, DEFAULT_CORS_ORIGINS } from './server/cors.js';
export { EmbeddingErrorCode, UnsupportedDimensionsError } from './server/embeddingErrors.js';
export { OpenAiParamErrorCode, UnsupportedParameterError } from './server/openaiParamErrors.js';

// Across processes: transports. An actor in one router reached from another (another process) with
// the same ask / tell / stream semantics.
export { ActorHostLostError, TransportErrorCode } from './messaging/transport/ActorHostLostError.js';
export {
  ChildProcessTransport,
  parentProcessTransport,
  type ChildProcessTransportOptions,
  type IpcFramingOptions,
  type ParentProcessTransportOptions,
} from './messaging/transport/ChildProcessTransport.js';
export { connectActors, type ConnectActorsOptions, type ConnectedActors } from './messaging/transport/connectActors.js';
export { exportActors, type ActorExport, type ExportActorsOptions } from './messaging/transport/exportActors.js';
export {
  isTransportFrame,
  TransportFrameType,
  type AskFrame,
  type CancelFrame,
  type ChunkFrame,
  type CreditFrame,
  type ExportedActor,
  type FailFrame,
  type HelloFrame,
  type PingFrame,
  type PongFrame,
  type ReplyFrame,
  type StreamFrame,
  type TellFrame,
  type TransportFrame,
} from './messaging/transport/frames.js';
export { InMemoryTransport, type InMemoryTransportOptions } from './messaging/transport/InMemoryTransport.js';
export { RemoteActor, type RemoteActorOptions } from './messaging/transport/RemoteActor.js';
export type { Transport, TransportCloseReason, TransportSendOptions } from './messaging/transport/Transport.js';
export { TransportBase } from './messaging/transport/TransportBase.js';
export {
  TransportPeer,
  type PeerAskOptions,
  type PeerSendOptions,
  type PeerStreamOptions,
  type StreamEnd,
  type TransportPeerOptions,
} from './messaging/transport/TransportPeer.js';
export {
  errorFromWire,
  errorToWire,
  registerWireError,
  registerWireErrors,
  type WireError,
  type WireErrorClass,
} from './messaging/transport/wireErrors.js';
export { connectNats, type ConnectNatsOptions } from './messaging/transport/nats/connectNats.js';
export { NatsTransport, type NatsTransportOptions } from './messaging/transport/nats/NatsTransport.js';
export { serveNats, type NatsActorServer, type NatsServedConnection, type ServeNatsOptions } from './messaging/transport/nats/serveNats.js';
export { NatsErrorCode } from './messaging/transport/nats/NatsErrorCode.js';
export { NoRespondersError } from './messaging/transport/nats/NoRespondersError.js';
export { NatsConnectionClosedError } from './messaging/transport/nats/NatsConnectionClosedError.js';
export { NatsConnectFailedError } from './messaging/transport/nats/NatsConnectFailedError.js';
// Model workers on a NATS cluster, and the front end's cluster models (issue 16).
export { serveModelWorker, type ModelWorker, type ModelWorkerOptions } from './entities/cluster/serveModelWorker.js';
export { WorkerDirectory, type KnownWorker, type WorkerDirectoryOptions } from './entities/cluster/WorkerDirectory.js';
export { ClusterModelActor, type ClusterModelActorOptions } from './entities/cluster/ClusterModelActor.js';
export { ClusterProvider, CLUSTER_PROVIDER_KIND } from './entities/cluster/ClusterProvider.js';
export { ModelCluster, CLUSTER_PROVIDER_ID, type ModelClusterOptions } from './entities/cluster/ModelCluster.js';
export { chooseReplica, replicaLoad, RouteReason, type ReplicaLoad, type ReplicaView, type RouteChoice } from './entities/cluster/chooseReplica.js';
export { SessionAffinity, type SessionAffinityOptions } from './entities/cluster/SessionAffinity.js';
export { WORKER_SERVICE_NAME, workerConnectSubject, workerLoadSubject, WorkerMetadata } from './entities/cluster/clusterSubjects.js';
export type { WorkerAnnouncement, WorkerLoadReport } from './entities/cluster/workerLoad.js';
export { ClusterErrorCode } from './entities/cluster/ClusterErrorCode.js';
export { NoReplicaError } from './entities/cluster/NoReplicaError.js';
export { messageText, textMessages, type TextChatMessage } from './actors/ModelActor/messageText.js';
