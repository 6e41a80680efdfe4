/**
 * @internal The revisions of a store that keeps none of its own (`FileStore`): one number per key
 * it has seen, all drawn from one counter, so a number is never handed out twice and a value
 * deleted and written again cannot come back at a revision a reader still holds.
 */
export class RevisionBook {
  private readonly revisions = new Map<string, number>();

  /** @param counter Where the numbers come from; shared by several books, they never hand out the same one. */
  constructor(private readonly counter: RevisionCounter) {}

  /** The revision of `key`'s value (which exists): the one it was given, or a new one if it has none yet. */
  current(key: string): number {
    return this.revisions.get(key) ?? this.renew(key);
  }

  /** Gives `key`'s value a new revision (it was written) and returns it. */
  renew(key: string): number {
    const revision = this.counter.next();
    this.revisions.set(key, revision);
    return revision;
  }

  /** `key` has no value any more. */
  forget(key: string): void {
    this.revisions.delete(key);
  }
}

/** @internal A source of increasing numbers. */
export class RevisionCounter {
  /** @param last The first number handed out is `last + 1`. */
  constructor(private last: number) {}

  next(): number {
    return ++this.last;
  }
}
