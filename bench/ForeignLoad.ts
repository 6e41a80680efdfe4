import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Busy and total jiffies of all CPUs, from /proc/stat (undefined where there is none). */
function cpuTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/**
 * CPU time in ms of a process from /proc/<pid>/stat: its own (utime + stime) plus, with
 * `children`, that of its children it has waited for (cutime + cstime), such as finished
 * `llama-bench` runs. 0 where it cannot be read.
 */
export function processCpuMs(pid: number | 'self', children: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const own = (fields[11] ?? 0) + (fields[12] ?? 0);
    const waited = children ? (fields[13] ?? 0) + (fields[14] ?? 0) : 0;
    return ((own + waited) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * How many cores other processes kept busy while measured work ran: the machine's busy time minus
 * this benchmark's own (this process, the tools it ran and waited for, and the servers whose pids
 * it names), over the wall time. Benchmarks print it so a reader can tell whether "idle" was idle.
 */
export class ForeignLoad {
  private foreignCoreMs = 0;
  private wallMs = 0;
  /** This process's CPU time during the last `measure`, in ms. */
  lastCpuMs = 0;

  /**
   * Measures `run`. `own` names what else is the benchmark's own CPU time: live child processes
   * (servers) by pid, or a function of the result giving a child's CPU ms.
   */
  async measure<T>(run: () => Promise<T>, own: readonly number[] | ((result: T) => number) = []): Promise<T> {
    const pids = typeof own === 'function' ? [] : own;
    const before = cpuTicks();
    const ownBefore = process.cpuUsage();
    const waitedBefore = processCpuMs('self', true) - processCpuMs('self', false);
    const childrenBefore = pids.map((pid) => processCpuMs(pid, true));
    const start = performance.now();
    const result = await run();
    const wall = performance.now() - start;
    const after = cpuTicks();
    const self = process.cpuUsage(ownBefore);
    const waited = processCpuMs('self', true) - processCpuMs('self', false) - waitedBefore;
    // A child whose CPU time the caller reports was also waited for: count it once.
    const reported = typeof own === 'function' ? own(result) - waited : 0;
    const children = reported + pids.reduce((sum, pid, i) => sum + processCpuMs(pid, true) - (childrenBefore[i] ?? 0), 0);
    this.lastCpuMs = (self.user + self.system) / 1000;
    if (before && after && after.total > before.total) {
      const machineCoreMs = ((after.busy - before.busy) / (after.total - before.total)) * cpus().length * wall;
      this.foreignCoreMs += Math.max(0, machineCoreMs - this.lastCpuMs - waited - children);
      this.wallMs += wall;
    }
    return result;
  }

  /** Average number of cores busy with other processes; NaN when it could not be measured. */
  get cores(): number {
    return this.wallMs > 0 ? this.foreignCoreMs / this.wallMs : Number.NaN;
  }

  /** {@link cores} for printing. */
  get coresText(): string {
    return Number.isNaN(this.cores) ? 'n/a' : this.cores.toFixed(2);
  }
}
