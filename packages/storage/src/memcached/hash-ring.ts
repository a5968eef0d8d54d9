import { createHash } from 'node:crypto';

/** Points each server gets on the ring by default (ketama's 160: 40 MD5 digests of 4 points). */
export const DEFAULT_VIRTUAL_NODES = 160;

/**
 * A consistent-hash ring with virtual nodes: each server holds many points on a 32-bit circle,
 * and a key belongs to the first server clockwise from the key's hash. Adding or removing a
 * server moves only about 1/n of the keys, and the points spread keys evenly.
 *
 * @example new HashRing(['127.0.0.1:41001', '127.0.0.1:41002']).lookup('user:7') // '127.0.0.1:41002'
 */
export class HashRing {
  private readonly points: Uint32Array;
  private readonly owners: string[];
  /** The distinct servers, in the order given. */
  readonly servers: readonly string[];

  constructor(servers: readonly string[], virtualNodes = DEFAULT_VIRTUAL_NODES) {
    const unique = [...new Set(servers)];
    this.servers = unique;
    const digests = Math.max(1, Math.ceil(virtualNodes / 4));
    const entries: Array<[number, string]> = [];
    for (const server of unique) {
      for (let i = 0; i < digests; i++) {
        const digest = createHash('md5').update(`${server}-${i}`).digest();
        for (let j = 0; j < 4; j++) entries.push([digest.readUInt32LE(j * 4), server]);
      }
    }
    // Ties (rare) go to the server listed first, the same in every client.
    entries.sort((a, b) => a[0] - b[0] || unique.indexOf(a[1]) - unique.indexOf(b[1]));
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = entries.map((e) => e[1]);
  }

  /** The server a key belongs to, or null on an empty ring. */
  lookup(key: string): string | null {
    return this.walk(key).next().value ?? null;
  }

  /** Every server in the order a key falls back to them: its own first, then clockwise. */
  *walk(key: string): Generator<string, void, undefined> {
    const n = this.points.length;
    if (n === 0) return;
    const start = this.firstAtOrAfter(hashKey(key));
    const seen = new Set<string>();
    for (let i = 0; i < n && seen.size < this.servers.length; i++) {
      const owner = this.owners[(start + i) % n]!;
      if (seen.has(owner)) continue;
      seen.add(owner);
      yield owner;
    }
  }

  private firstAtOrAfter(h: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }
}

/** A key's place on the circle: the first 32 bits of its MD5, as ketama does. */
export function hashKey(key: string): number {
  return createHash('md5').update(key).digest().readUInt32LE(0);
}
