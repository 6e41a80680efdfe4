/**
 * The model host process (forked by {@link HostProcess}): one ModelActor and its {@link HostActor}
 * in a router of their own, exported to the parent over the IPC channel. The parent's ModelHostActor
 * reaches them under the same ids and protocol. The host exits when the parent says so (SIGTERM),
 * and on its own when the IPC channel closes (the parent died: no orphan is left holding the model).
 */
import { pino } from 'pino';
import { exportActors } from '../../messaging/transport/exportActors.js';
import { parentProcessTransport } from '../../messaging/transport/ChildProcessTransport.js';
import { InspectionEventType } from '../../messaging/inspection.js';
import { MessageRouter } from '../../messaging/MessageRouter.js';
import { ModelActor } from '../ModelActor/ModelActor.js';
import { ModelLifecycleState } from '../ModelActor/types.js';
import { HostActor } from './HostActor.js';
import { HOST_CONFIG_ENV, type ModelHostConfig } from './types.js';
import { registerModelWireErrors } from './modelWireErrors.js';

const raw = process.env[HOST_CONFIG_ENV];
if (raw === undefined || process.send === undefined) {
  process.stderr.write(`modelHostMain: run by a ModelHostActor (no ${HOST_CONFIG_ENV} or no IPC channel)\n`);
  process.exit(2);
}
const config = JSON.parse(raw) as ModelHostConfig;
// JSON lines on stderr: the parent logs them through its own logger.
const logger = pino({ level: config.logLevel, base: { model: config.modelId } }, pino.destination(2));
registerModelWireErrors();

const host = new HostActor();
const modelAddress = `@(${config.modelId})`;
const router = new MessageRouter({
  logger,
  inspect: (event) => {
    if (event.type !== InspectionEventType.ActorState || event.actor !== modelAddress) return;
    host.modelState = event.state;
    const progress = (event.detail as { progress?: unknown } | undefined)?.progress;
    if (typeof progress === 'number') host.loadProgress = progress;
    if (event.state === ModelLifecycleState.Ready) host.loadProgress = 1;
  },
});
const model = new ModelActor({ ...config.model, logger });
router.registerActor(config.modelId, model, model.actorOptions);
router.registerActor(config.hostId, host);
const transport = parentProcessTransport();
const exported = exportActors(router, transport, { logger });

let stopping: Promise<void> | undefined;
function shutdown(why: string, code: number): void {
  stopping ??= (async () => {
    logger.info({ why }, 'model host stopping');
    await exported.dispose();
    // Aborts the generations in flight and frees the model (never a sequence mid-generation).
    await router.dispose();
    process.exit(code);
  })();
}
transport.onClose(() => shutdown('the parent went away', 0));
process.on('SIGTERM', () => shutdown('SIGTERM', 0));
// Ctrl-C reaches the whole process group: the parent decides when its hosts stop.
process.on('SIGINT', () => {});
