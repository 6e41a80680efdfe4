import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TokenStreamEvent } from '../../src/index.js';
import { ActorHostLostError, TransportErrorCode } from '../../src/messaging/transport/ActorHostLostError.js';
import { PROBE, ProbeMessage } from './helpers/transportActors.js';
import { childProcess, eventually, forkScript, HWM, PARENT_SCRIPT, probeStats, type Setup } from './helpers/transportSetups.js';

/** True while a process with this pid exists (signal 0 only asks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a child process host', () => {
  let setup: Setup;
  beforeEach(async () => {
    setup = await childProcess();
  });
  afterEach(async () => {
    await setup.dispose();
  });

  it('SIGKILLed mid-stream: the stream and the ask in flight end with ACTOR_HOST_LOST naming the signal, at once', async () => {
    const remote = setup.remote!;
    const lost: ActorHostLostError[] = [];
    remote.peer.onLost((error) => lost.push(error));
    const ask = setup.router.ask(PROBE, ProbeMessage.Hang, null, { timeout: Infinity }).catch((e: unknown) => e);
    const events: TokenStreamEvent[] = [];
    const stream = setup.router.streamAsk(PROBE, ProbeMessage.Count, { n: 1_000_000 }, {
      highWaterMark: HWM,
      onChunk: (event) => {
        events.push(event);
        // A consumer that keeps reading, slowly: the stream is mid-flight when the host dies.
        return new Promise((resolve) => setTimeout(resolve, 1));
      },
    });
    await eventually(() => probeStats(setup.router), (s) => s.hanging === 1 && s.emitted > 10, 'the host busy');
    remote.child!.kill('SIGKILL');
    const result = await stream;
    const error = await ask;
    expect(error).toBeInstanceOf(ActorHostLostError);
    expect(error).toMatchObject({
      message: 'actor probe/main lost: its host process exited with signal SIGKILL',
      signal: 'SIGKILL',
      exitCode: null,
      kind: 'unavailable',
    });
    const ending = events.filter((e) => e.type === 'done' || e.type === 'error');
    expect(ending).toEqual([expect.objectContaining({ type: 'error', code: TransportErrorCode.ActorHostLost })]);
    expect(result.error).toBeInstanceOf(ActorHostLostError);
    expect(result.error?.message).toBe('actor probe/main lost: its host process exited with signal SIGKILL');
    expect(lost.map((e) => e.message)).toEqual(['actor host lost: its host process exited with signal SIGKILL']);
  });

  it('closing the transport disconnects the child, which exits by itself', async () => {
    const remote = setup.remote!;
    await remote.transport.close();
    const [code, signal] = await remote.exited!;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});

describe('an orphaned host', () => {
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('exits on its own when the process that forked it dies (its IPC channel closes)', async () => {
    const parent = forkScript(PARENT_SCRIPT, [], 'pipe');
    started.push(parent.pid!);
    let output = '';
    parent.stdout!.setEncoding('utf8');
    parent.stdout!.on('data', (chunk: string) => (output += chunk));
    const hostPid = await eventually(async () => Number(/host (\d+)/.exec(output)?.[1] ?? 0), (pid) => pid > 0, 'the host pid');
    started.push(hostPid);
    expect(alive(hostPid)).toBe(true);
    const parentExit = once(parent, 'exit');
    parent.kill('SIGKILL');
    await parentExit;
    await eventually(async () => alive(hostPid), (up) => !up, `host ${hostPid} still running after its parent died`);
  }, 20_000);
});
