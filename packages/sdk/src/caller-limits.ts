import type { RateLimit } from '@squadron/policy';
import type { Directory } from './directory.ts';
import { TokenBucket } from './token-bucket.ts';

export type { RateLimit };
export { DEFAULT_RATE_LIMIT } from '@squadron/policy';

interface Entry {
  bucket: TokenBucket;
  limit: RateLimit;
  share: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

/** One answer for every admitted call: nothing allocated on the hot path. */
const ADMITTED: Admission = { ok: true };

/**
 * A token bucket per caller-to-service pair. Callees hold one for their callers, split across
 * the service's live instances in their own site: a caller's calls stay in one site (its own, or
 * the one it fails over to) and spread over the instances there, so wherever they land the
 * caller gets its whole limit, and no more than that in each site (decision 0010). Callers
 * mirror the pair's whole limit to fail fast. A pair's bucket is rebuilt when its limit or the
 * share changes (a grant, a scale).
 */
export class CallerLimits {
  private readonly entries = new Map<string, Entry>();

  /** @param instances how many live instances share each limit (at least 1) */
  constructor(private readonly instances: () => number = () => 1) {}

  /** Take a token for `caller` under `limit`; null: the pair is not limited. */
  admit(caller: string, limit: RateLimit | null, now = performance.now()): Admission {
    if (limit === null) return ADMITTED;
    const share = Math.max(1, this.instances());
    let e = this.entries.get(caller);
    if (!e || e.share !== share || e.limit.ratePerSecond !== limit.ratePerSecond || e.limit.burst !== limit.burst) {
      e = { bucket: new TokenBucket(limit.ratePerSecond / share, Math.max(1, limit.burst / share), now), limit, share };
      this.entries.set(caller, e);
    }
    if (e.bucket.take(now)) return ADMITTED;
    return { ok: false, retryAfterMs: e.bucket.retryAfterMs(now) };
  }
}

/**
 * How many live instances of `service` the directory sees in its own site: the share of a
 * caller's limit that each of them enforces. Counted when the registry changes, not per call.
 */
export function instancesInSite(directory: Directory, service: string): () => number {
  let count = 1;
  const recount = () => {
    let n = 0;
    for (const i of directory.instances(service)) if (i.site === directory.site) n++;
    count = Math.max(1, n);
  };
  recount();
  directory.onChange(recount);
  return () => count;
}
