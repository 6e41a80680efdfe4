/**
 * Child process for the load-crash test: publishes and starts a model on a FileStore, prints
 * `loading` once the start has returned (the load marker is in the store by then), and stays
 * in the load until it is killed. The model path is a FIFO nobody writes to, so opening it blocks:
 * the process is killed mid-load, as llama.cpp aborting on a malformed file would kill it.
 *
 *   node --import tsx test/model/helpers/modelLoadWorker.ts <dataDir> <modelPath>
 */
import { pino } from 'pino';
import { FileStore } from '../../../src/entities/store/FileStore.js';
import { address, MessageRouter, ModelManager } from '../../../src/index.js';

const [dataDir, modelPath] = process.argv.slice(2);
if (!dataDir || !modelPath) throw new Error('usage: modelLoadWorker.ts <dataDir> <modelPath>');

const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const models = new ModelManager({ router, store: new FileStore({ dataDir }) });
await models.publishProvider({ id: 'provider', kind: 'local-llama' });
await models.publishModel({ id: 'model', provider: address('provider'), path: modelPath, load: { slots: 1, threads: 1, contextSize: 256 } });
await models.ensureStarted('model');
process.stdout.write('loading\n');
// The blocked open keeps the process alive as it is; the timer makes sure of it.
setInterval(() => {}, 1 << 30);
