import type { Logger } from 'pino';
import type { ModelManager } from '../entities/ModelManager.js';
import type { SessionManager } from '../entities/SessionManager.js';
import type { Store } from '../entities/store/Store.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import type { ServerMetrics } from './ServerMetrics.js';

/** @internal What the routes share. */
export interface ServerContext {
  router: MessageRouter;
  models: ModelManager;
  sessions: SessionManager;
  /** Where the server keeps its own records (the Responses API's stored responses). */
  store: Store;
  metrics: ServerMetrics;
  logger: Logger;
  /** Directories model files must be inside (resolved, absolute). */
  modelDirs: string[];
  /** Directories adapter files must be inside (resolved, absolute). */
  adapterDirs: string[];
  /** How long a streaming response waits for a client that stopped reading. */
  writeTimeoutMs: number;
}
