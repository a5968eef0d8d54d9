/**
 * A hybrid logical clock (Kulkarni et al., 2014): wall-clock milliseconds plus a counter. Every
 * stamp a site issues is above every stamp it has issued or seen, yet stays close to real time,
 * so "last writer" means the same thing on every site even when their clocks drift a little.
 */

/** A point in hybrid-logical time: `ms` from the wall clock (or the highest seen), `c` to order within one ms. */
export interface HlcStamp {
  ms: number;
  c: number;
}

/** What the conflict rule orders: a write's stamp, then the site it came from. */
export interface WriteOrder {
  hlc: HlcStamp;
  origin: string;
}

/** Negative, zero or positive as `a` is earlier than, the same as, or later than `b`. */
export function compareStamps(a: HlcStamp, b: HlcStamp): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.c - b.c;
}

/**
 * The conflict rule: the later stamp wins; equal stamps (two sites in the same ms with the same
 * counter) go to the site whose name sorts last. Every site applies the same rule to the same
 * writes, so replicas converge whatever order the writes arrive in.
 */
export function laterWrite(a: WriteOrder, b: WriteOrder): boolean {
  const byStamp = compareStamps(a.hlc, b.hlc);
  if (byStamp !== 0) return byStamp > 0;
  return a.origin > b.origin;
}

export class HybridClock {
  private last: HlcStamp;

  /** `now` is the wall clock (injectable for tests); `last` the highest stamp issued or seen before a restart. */
  constructor(private readonly now: () => number, last: HlcStamp = { ms: 0, c: 0 }) {
    this.last = { ...last };
  }

  /** A stamp for a write made here: above everything issued or seen so far. */
  tick(): HlcStamp {
    const wall = Math.floor(this.now());
    this.last = wall > this.last.ms ? { ms: wall, c: 0 } : { ms: this.last.ms, c: this.last.c + 1 };
    return { ...this.last };
  }

  /** Take in a stamp from another site, so that later writes here order after it. */
  observe(remote: HlcStamp): void {
    if (compareStamps(remote, this.last) > 0) this.last = { ...remote };
  }

  /** The highest stamp issued or seen, to keep across restarts. */
  current(): HlcStamp {
    return { ...this.last };
  }
}
