/**
 * Child process for the kill-and-reload test: holds one conversation on a FileStore and reports
 * each turn on stdout as `done <n>` when its `done` event arrives (which is after it was
 * persisted), then waits for a `next` line on stdin before it starts the next turn: the parent
 * reads our lines later than we write them, so without the pause it could not know how far we had
 * got when its SIGKILL lands. Runs until it is killed.
 *
 *   node --import tsx test/model/helpers/sessionWorker.ts <dataDir> <modelPath>
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { FileStore } from '../../../src/entities/store/FileStore.js';
import { address, MessageRouter, ModelManager, SessionManager, SessionMessage } from '../../../src/index.js';

const [dataDir, modelPath] = process.argv.slice(2);
if (!dataDir || !modelPath) throw new Error('usage: sessionWorker.ts <dataDir> <modelPath>');

const router = new MessageRouter({ logger: pino({ level: 'silent' }) });
const store = new FileStore({ dataDir });
const models = new ModelManager({ router, store });
await models.publishProvider({ id: 'provider', kind: 'local-llama' });
await models.publishModel({ id: 'model', provider: address('provider'), path: modelPath, load: { slots: 1, threads: 1, contextSize: 2048 } });
const sessions = new SessionManager({ router, store, models });
const chat = (await sessions.list()).some((s) => s.id === 'kill-test')
  ? await sessions.load('kill-test')
  : await sessions.create({ id: 'kill-test', model: 'model' });

const nextLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const start = (await sessions.get('kill-test')).turns.length / 2;
for (let n = start + 1; ; n++) {
  if (n > start + 1 && (await nextLines.next()).done) break;
  await router.streamAsk(chat, SessionMessage.Inference, { message: `turn ${n}`, params: { maxTokens: 3, temperature: 0 } }, {
    onChunk: (event) => {
      if (event.type === 'done') process.stdout.write(`done ${n}\n`);
      if (event.type === 'error') process.stdout.write(`error ${event.code} ${event.error}\n`);
    },
  });
}
