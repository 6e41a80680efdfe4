import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

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
 * How many cores other processes kept busy while measured work ran: the machine's busy time minus
 * this process's own CPU time (and a child's, when given), over the wall time. Benchmarks print it
 * so a reader can tell whether "idle" really was idle.
 */
export class ForeignLoad {
  private foreignCoreMs = 0;
  private wallMs = 0;
  /** This process's CPU time during the last `measure`, in ms. */
  lastCpuMs = 0;

  async measure<T>(run: () => Promise<T>, childCpuMs?: (result: T) => number): Promise<T> {
    const before = cpuTicks();
    const ownBefore = process.cpuUsage();
    const start = performance.now();
    const result = await run();
    const wall = performance.now() - start;
    const after = cpuTicks();
    const own = process.cpuUsage(ownBefore);
    this.lastCpuMs = (own.user + own.system) / 1000;
    if (before && after && after.total > before.total) {
      const machineCoreMs = ((after.busy - before.busy) / (after.total - before.total)) * cpus().length * wall;
      this.foreignCoreMs += Math.max(0, machineCoreMs - this.lastCpuMs - (childCpuMs?.(result) ?? 0));
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
