import type { Store } from '../entities/store/Store.js';
import type { MessageRouter } from '../messaging/MessageRouter.js';
import type { DataDirLock } from './dataDirLock.js';

/**
 * @internal How a command lets go of its runtime, in this order whatever fails: the router first
 * (generations are aborted and models freed while the store is still there to record it), then the
 * store, then the data directory's lock (last, so no other process opens the directory early).
 */
export async function disposeRuntime(router: MessageRouter, store: Store, lock: DataDirLock | undefined): Promise<void> {
  try {
    await router.dispose();
  } finally {
    try {
      await store.dispose();
    } finally {
      await lock?.release();
    }
  }
}
