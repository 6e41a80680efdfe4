/** Helpers every benchmark script shares. */

/** A positive number given as `--name value` on the command line, else `fallback`. */
export function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The median (the mean of the two middle values for an even count); `NaN` for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The order in which to run `entries` in round `round`: every entry goes first equally often and
 * each order is followed by its reverse (for two entries AB, BA, BA, AB, ...; for three all six
 * orders in six rounds), so neither the position in a round nor a drift of the machine's speed
 * favours one variant. (A rotation that is also reversed every other round repeats one order
 * forever for two entries.)
 */
export function ordered<T>(entries: readonly T[], round: number): T[] {
  const count = Math.max(1, entries.length);
  const shift = round % count;
  const rotated = [...entries.slice(shift), ...entries.slice(0, shift)];
  return Math.floor(round / count) % 2 === 0 ? rotated : rotated.reverse();
}
