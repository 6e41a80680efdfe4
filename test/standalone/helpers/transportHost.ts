/**
 * Child process of the transport tests and bench: a router with the probe actors (plus, with
 * `--bench`, the bench's producer), exported to the parent over the IPC channel. It exits on its
 * own when the channel closes: the parent closed the transport, or died (no orphan survives it).
 *
 * Run (forked, with an IPC channel): `node --import tsx test/standalone/helpers/transportHost.ts [highWaterMark]`
 */
import { pino } from 'pino';
import { MessageRouter } from '../../../src/messaging/MessageRouter.js';
import { parentProcessTransport } from '../../../src/messaging/transport/ChildProcessTransport.js';
import { exportActors } from '../../../src/messaging/transport/exportActors.js';
import { registerProbeActors } from './transportActors.js';

const highWaterMark = Number(process.argv[2] ?? 64);
const router = new MessageRouter({ logger: pino({ level: 'silent' }), highWaterMark });
registerProbeActors(router);
const transport = parentProcessTransport();
const exported = exportActors(router, transport);
transport.onClose(() => {
  void exported
    .dispose()
    .then(() => router.dispose())
    .finally(() => process.exit(0));
});
