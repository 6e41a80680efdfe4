import type { ServerResponse } from 'node:http';

/**
 * @internal Resolves `true` when `response` drains after a write it could not take at once, `false`
 * when the client goes (or `signal` fires) first. A client that reads nothing for `writeTimeoutMs`
 * is cut, which fires the client signal and frees its slot. Shared by the SSE and NDJSON writers.
 */
export function drained(
  response: ServerResponse,
  options: { signal: AbortSignal; writeTimeoutMs: number },
  isOpen: () => boolean,
): Promise<boolean> {
  const { signal, writeTimeoutMs } = options;
  return new Promise<boolean>((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      response.off('drain', onDrain);
      response.off('close', onClose);
      signal.removeEventListener('abort', onClose);
      resolve(ok);
    };
    const onDrain = (): void => finish(true);
    const onClose = (): void => finish(false);
    const timer = setTimeout(() => {
      response.destroy(new Error(`client read nothing for ${writeTimeoutMs} ms`));
      finish(false);
    }, writeTimeoutMs);
    response.on('drain', onDrain);
    response.on('close', onClose);
    signal.addEventListener('abort', onClose, { once: true });
    if (!isOpen()) finish(false);
  });
}
