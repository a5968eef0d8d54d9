import { TokenBucket } from './token-bucket.ts';

/** A caller's allowance toward one service: calls per second, and how many may come at once. */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

/** The platform's default threshold for a caller without a grant: anyone may try a service out. */
export const DEFAULT_RATE_LIMIT: RateLimit = { ratePerSecond: 50, burst: 100 };

interface Entry {
  bucket: TokenBucket;
  share: number;
  rejected: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number; limit: RateLimit };

/**
 * The callee's side of rate limiting: a token bucket per caller. A service's limit toward a
 * caller is split across its live instances (each enforces its share), so the service as a whole
 * accepts what the limit says, however many instances it runs.
 */
export class CallerLimits {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param limitFor the limit toward a caller (a grant's, or the default)
   * @param instances how many live instances share it (at least 1)
   */
  constructor(private readonly limitFor: (caller: string) => RateLimit, private readonly instances: () => number) {}

  admit(caller: string, now = performance.now()): Admission {
    const share = Math.max(1, this.instances());
    let e = this.entries.get(caller);
    if (!e || e.share !== share) {
      const limit = this.limitFor(caller);
      e = { bucket: new TokenBucket(limit.ratePerSecond / share, Math.max(1, limit.burst / share), now), share, rejected: e?.rejected ?? 0 };
      this.entries.set(caller, e);
    }
    if (e.bucket.take(now)) return { ok: true };
    e.rejected++;
    return { ok: false, retryAfterMs: e.bucket.retryAfterMs(now), limit: this.limitFor(caller) };
  }

  /** Calls refused per caller since start. */
  rejections(): Array<{ caller: string; rejected: number }> {
    return [...this.entries].filter(([, e]) => e.rejected > 0).map(([caller, e]) => ({ caller, rejected: e.rejected }));
  }
}
